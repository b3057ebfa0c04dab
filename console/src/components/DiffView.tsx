import { Typography } from "antd";

export type Piece = { kind: "same" | "added" | "removed"; text: string };

/** The pieces that turn `before` into `after`, by longest common subsequence of tokens. */
export function diffTokens(before: string[], after: string[]): Piece[] {
  const rows = before.length;
  const cols = after.length;
  const common: number[][] = Array.from({ length: rows + 1 }, () => new Array(cols + 1).fill(0));
  for (let i = rows - 1; i >= 0; i--) {
    for (let j = cols - 1; j >= 0; j--) {
      common[i][j] = before[i] === after[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const pieces: Piece[] = [];
  const push = (kind: Piece["kind"], text: string) => {
    const last = pieces[pieces.length - 1];
    if (last && last.kind === kind) last.text += text;
    else pieces.push({ kind, text });
  };
  let i = 0;
  let j = 0;
  while (i < rows || j < cols) {
    if (i < rows && j < cols && before[i] === after[j]) {
      push("same", before[i++]);
      j++;
    } else if (i < rows && (j === cols || common[i + 1][j] >= common[i][j + 1])) {
      push("removed", before[i++]);
    } else {
      push("added", after[j++]);
    }
  }
  return pieces;
}

const words = (text: string) => text.split(/(\s+)/).filter((token) => token !== "");

function show(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "yes" : "no";
  return JSON.stringify(value);
}

/** The pieces of one field's change: word by word for text, item by item for lists. */
export function diffValues(before: unknown, after: unknown): Piece[] {
  if (Array.isArray(before) || Array.isArray(after)) {
    const old = ((before as unknown[]) ?? []).map(show);
    const now = ((after as unknown[]) ?? []).map(show);
    if (old.length === 0 && now.length === 0) return [{ kind: "same", text: "none" }];
    return [
      ...old.filter((item) => !now.includes(item)).map((text) => ({ kind: "removed" as const, text })),
      ...now.filter((item) => old.includes(item)).map((text) => ({ kind: "same" as const, text })),
      ...now.filter((item) => !old.includes(item)).map((text) => ({ kind: "added" as const, text })),
    ];
  }
  if (typeof before === "string" && typeof after === "string") return diffTokens(words(before), words(after));
  return [
    ...(before === null || before === undefined ? [] : [{ kind: "removed" as const, text: show(before) }]),
    ...(after === null || after === undefined ? [] : [{ kind: "added" as const, text: show(after) }]),
  ];
}

const STYLE: Record<Piece["kind"], React.CSSProperties> = {
  same: {},
  added: { background: "#d9f7be", color: "#135200" },
  removed: { background: "#ffccc7", color: "#820014", textDecoration: "line-through" },
};

export type Change = { old: unknown; new: unknown };

const isChange = (value: unknown): value is Change => typeof value === "object" && value !== null && "old" in value && "new" in value;

/** A revision's changes as the API gives them: an open object whose values are `{old, new}` (the
 * document says so only in words), so a value of another shape is left out rather than guessed. */
export function changesOf(changes: Record<string, unknown>): Record<string, Change> {
  return Object.fromEntries(Object.entries(changes).filter((entry): entry is [string, Change] => isChange(entry[1])));
}

/** The changes of one revision, `{field: {old, new}}`, each field as a diff. Text is shown as text. */
export function DiffView({ changes, labels = {} }: { changes: Record<string, Change>; labels?: Record<string, string> }) {
  return (
    <div>
      {Object.entries(changes).map(([field, change]) => (
        <div key={field} data-testid={`diff-${field}`} style={{ marginBottom: 6 }}>
          <Typography.Text strong>{labels[field] ?? field}: </Typography.Text>
          {diffValues(change.old, change.new).map((piece, index) => (
            <span key={index} className={`diff-${piece.kind}`} style={{ ...STYLE[piece.kind], padding: piece.kind === "same" ? 0 : "0 2px", marginRight: Array.isArray(change.new) ? 6 : 0 }}>
              {piece.text}
            </span>
          ))}
        </div>
      ))}
    </div>
  );
}
