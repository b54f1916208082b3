/** Pins the parsing of h2load/wrk output and the small stats helpers, so a tool upgrade that changes formats fails loudly. */
import { describe, expect, it } from "vitest";
import { FrameReader, frameMessage } from "./grpc-frame.js";
import { parseH2loadSummary, percentilesFromLog } from "./h2load-runner.js";
import { median, percentile, toMs } from "./stats.js";
import { parseWrkOutput, wrkScript } from "./wrk-runner.js";

const H2LOAD_OUTPUT = `finished in 5.06s, 6256.00 req/s, 1.24MB/s
requests: 31280 total, 31536 started, 31280 done, 31280 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 31392 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 6.20MB (6500726) total, 156.35KB (160102) headers (space savings 96.33%), 5.18MB (5430816) data
                     min         max         mean         sd        +/- sd
time for request:     9.05ms    333.68ms     39.60ms     25.91ms    89.72%
`;

const WRK_OUTPUT = `Running 5s test @ http://127.0.0.1:51003/user.UserService/GetUser
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    16.23ms   28.45ms 424.92ms   95.81%
    Req/Sec     5.40k     2.03k    9.26k    60.00%
  Latency Distribution
     50%    9.47ms
     75%   15.49ms
     90%   26.28ms
     99%  155.76ms
  27071 requests in 5.07s, 13.11MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   5339.14
Transfer/sec:      2.59MB
`;

describe("h2load parsing", () => {
  it("reads req/s, counts, data bytes and the request-time row", () => {
    const s = parseH2loadSummary(H2LOAD_OUTPUT);
    expect(s).toMatchObject({ rps: 6256, requests: 31280, failed: 0, non2xx: 0, dataBytes: 5430816 });
    expect(s.minMs).toBeCloseTo(9.05);
    expect(s.maxMs).toBeCloseTo(333.68);
    expect(s.meanMs).toBeCloseTo(39.6);
  });

  it("computes percentiles from the per-request log, skipping failed rows", () => {
    const rows = Array.from({ length: 100 }, (_, i) => `1700000000000000\t200\t${(i + 1) * 1000}`);
    rows.push("1700000000000000\t-1\t999999999");
    const p = percentilesFromLog(rows.join("\n") + "\n");
    expect(p).toEqual({ p50Ms: 50, p90Ms: 90, p99Ms: 99 });
  });
});

describe("wrk parsing", () => {
  it("prefers the JSON line printed by the generated done()", () => {
    const json = 'BENCH_WRK_JSON {"requests":1000,"durationUs":2000000,"connect":0,"read":1,"write":0,"status":2,"timeout":0,"meanUs":1500.5,"maxUs":9000,"p50Us":1200,"p90Us":2500,"p99Us":7000}';
    const m = parseWrkOutput(`${WRK_OUTPUT}${json}\n`);
    expect(m).toMatchObject({ rps: 500, requests: 1000, failed: 1, non2xx: 2, p50Ms: 1.2, p90Ms: 2.5, p99Ms: 7 });
  });

  it("falls back to the --latency text", () => {
    const m = parseWrkOutput(WRK_OUTPUT);
    expect(m).toMatchObject({ rps: 5339.14, requests: 27071, non2xx: 3, p50Ms: 9.47, p90Ms: 26.28, p99Ms: 155.76 });
  });

  it("escapes body and headers into the Lua script", () => {
    const script = wrkScript('{"a":"\'"}', { Authorization: "Bearer x.y.z" });
    expect(script).toContain('wrk.method = "POST"');
    expect(script).not.toContain("Bearer x.y.z");
  });
});

describe("stats and framing", () => {
  it("converts tool units and takes medians and percentiles", () => {
    expect(toMs("843us")).toBeCloseTo(0.843);
    expect(toMs("1.5s")).toBe(1500);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });

  it("splits gRPC frames across arbitrary chunk boundaries", () => {
    const stream = Buffer.concat([frameMessage(Buffer.from("hello")), frameMessage(Buffer.alloc(0)), frameMessage(Buffer.from("world!"))]);
    const seen: string[] = [];
    const reader = new FrameReader();
    for (let i = 0; i < stream.length; i += 3) reader.push(stream.subarray(i, i + 3), (m) => seen.push(m.toString()));
    expect(seen).toEqual(["hello", "", "world!"]);
    expect(reader.hasPartial).toBe(false);
  });
});
