import { generatePath, matchRoutes } from "react-router-dom";
import { describe, expect, it } from "vitest";
import type { Role } from "./api/types";
import { menuFor, routes, routeTree } from "./routes";
import { can } from "./workspace";

const ROLES: (Role | undefined)[] = ["admin", "reviewer", "developer", undefined];
const SECTIONS = ["Mini programs", "JSAPIs", "Features", "Analytics", "Quality", "Approvals", "Apps", "Members", "Workspace"];
const labels = (role: Role | undefined) => menuFor(role).map((entry) => entry.label);

describe("the console's routes", () => {
  it("give an admin every section of a workspace in the menu, then Settings, Webhooks and the audit log", () => {
    expect(labels("admin")).toEqual([...SECTIONS, "Settings", "Webhooks", "Audit log"]);
  });

  it.each(["reviewer", "developer", undefined] as const)("give a %s member every section but Settings, Webhooks and the audit log", (role) => {
    expect(labels(role)).toEqual(SECTIONS);
  });

  it("leave every page that needs a permission out of the menu of a role without it", () => {
    const gated = routes.filter((route) => route.menu && route.requires);
    expect(gated.length).toBeGreaterThan(0);
    for (const role of ROLES)
      for (const route of gated) {
        const offered = menuFor(role).some((entry) => entry.path === route.path);
        expect(offered, `${route.path} for ${role}`).toBe(can[route.requires!](role));
      }
  });

  it("lead every menu entry, within a workspace, to its own page", () => {
    for (const entry of menuFor("admin")) {
      const url = generatePath(entry.path, { ws: "ws1" });
      const matched = matchRoutes(routeTree, url) ?? [];
      expect(matched.at(-1)?.route.path, url).toBe(entry.path);
    }
  });

  it("route each path once, and send what no page has to the not-found page", () => {
    const paths = routes.map((route) => route.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(matchRoutes(routeTree, "/no/such/page")?.at(-1)?.route.path).toBe("*");
    expect(matchRoutes(routeTree, "/workspaces/ws1/miniprograms/mp1/launches/l1")?.at(-1)?.route.path).toBe("/workspaces/:ws/miniprograms/:mp/launches/:launch");
  });
});
