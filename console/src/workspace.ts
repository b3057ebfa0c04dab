import { useQuery } from "@tanstack/react-query";
import { useParams } from "react-router-dom";
import { wholeLists } from "./api/queries";
import type { Role } from "./api/types";
import { useAuth } from "./auth";

/** What each role may do (the API's Roles table); what a role may not do is not offered. */
export const can = {
  administer: (role?: Role) => role === "admin",
  develop: (role?: Role) => role === "admin" || role === "developer",
  decide: (role?: Role) => role === "admin" || role === "reviewer",
};

/** One of the things `can` tells whether a role may do. */
export type Permission = keyof typeof can;

export function useWorkspace(): { ws: string; role: Role | undefined } {
  const { ws = "" } = useParams();
  const { roleIn } = useAuth();
  return { ws, role: roleIn(ws) };
}

export const ROLE_LABELS: Record<Role, string> = { admin: "Workspace Admin", reviewer: "Workspace Reviewer", developer: "Workspace Developer" };

export function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "—";
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

/** Member names by account id, to show people rather than ids (every member may read the list). */
export function useMemberNames(ws: string): (id: string | null | undefined) => string {
  const members = useQuery(wholeLists.members(ws));
  return (id) => {
    if (!id) return "—";
    return members.data?.items.find((member) => member.account_id === id)?.name ?? id;
  };
}
