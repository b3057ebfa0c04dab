import { describe, expect, it } from "vitest";
import { parseParameters } from "./Jsapis";

describe("parseParameters", () => {
  it("takes nothing as no parameters", () => {
    expect(parseParameters("")).toBeNull();
    expect(parseParameters("   ")).toBeNull();
  });

  it("takes a JSON Schema object", () => {
    expect(parseParameters('{"type": "object", "properties": {"a": {"type": "string"}}}')).toEqual({ type: "object", properties: { a: { type: "string" } } });
  });

  it("refuses what is not JSON, not an object, or names an unknown type", () => {
    expect(() => parseParameters("{type: object}")).toThrow(/Not valid JSON/);
    expect(() => parseParameters("[1]")).toThrow(/is an object/);
    expect(() => parseParameters('{"type": "objekt"}')).toThrow(/"type" must be one of/);
    expect(() => parseParameters('{"properties": []}')).toThrow(/"properties" must be an object/);
  });
});
