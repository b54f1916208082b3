import { invalidArgument, notFound, permissionDenied } from "../domain/errors.js";
import type { ChatMessage, ChatMessageKind, Principal } from "../domain/types.js";

export const chatLimits = { contentMax: 4000, historyDefault: 50, historyMax: 500 } as const;

/** A message as a client asks to send it; the server decides sender, id and time. */
export interface ChatDraft {
  /** What the client claimed; 0 means "me". */
  claimedFromUserId: number;
  toUserId: number;
  content: string;
  kind: ChatMessageKind;
}

/** Checks a draft against the caller: no spoofed sender, no system messages from users, sane content. */
export function checkChatDraft(principal: Principal, draft: ChatDraft): ChatMessageKind {
  if (draft.claimedFromUserId !== 0 && draft.claimedFromUserId !== principal.userId) {
    throw permissionDenied("from_user_id must be your own id (or 0)");
  }
  if (draft.kind === "system" && !principal.isAdmin) throw permissionDenied("only admins may send system messages");
  const violations = [];
  const length = [...draft.content].length;
  if (draft.content.trim() === "") violations.push({ field: "content", code: "REQUIRED", message: "must not be empty" });
  else if (length > chatLimits.contentMax) {
    violations.push({ field: "content", code: "TOO_LONG", message: `must be at most ${chatLimits.contentMax} characters` });
  }
  if (!Number.isSafeInteger(draft.toUserId) || draft.toUserId < 0) {
    violations.push({ field: "to_user_id", code: "OUT_OF_RANGE", message: "must be 0 (everyone) or a user id" });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return draft.kind === "unspecified" ? "text" : draft.kind;
}

/** Throws NOT_FOUND for a direct message to nobody. */
export function recipientMustExist(exists: boolean, toUserId: number): void {
  if (!exists) throw notFound("recipient", { to_user_id: String(toUserId) });
}

/** Everyone sees broadcasts; a direct message is seen by its sender and its recipient. */
export function isVisibleTo(message: ChatMessage, userId: number): boolean {
  return message.toUserId === 0 || message.toUserId === userId || message.fromUserId === userId;
}
