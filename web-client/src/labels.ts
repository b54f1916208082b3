import { UserStatus } from "../../gen/user/user_pb.js";

/** The word a person reads for a user status. */
export function statusLabel(status: UserStatus): string {
  switch (status) {
    case UserStatus.ACTIVE:
      return "Active";
    case UserStatus.INACTIVE:
      return "Inactive";
    case UserStatus.SUSPENDED:
      return "Suspended";
    case UserStatus.DELETED:
      return "Deleted";
    default:
      return "Unknown";
  }
}
