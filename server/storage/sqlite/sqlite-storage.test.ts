import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeStorageContract } from "../storage-contract.js";
import { openSqliteStorage } from "./sqlite-storage.js";

describeStorageContract("sqlite", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "users-contract-"));
  const storage = await openSqliteStorage({ file: path.join(dir, "users.sqlite") });
  return {
    storage,
    async cleanup() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
