// Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`)
// and field selectors (`metadata.name`, `metadata.namespace` with =, ==, !=) as list requests use
// them. A selector that does not parse is a 400, as on the real apiserver.
import { badRequest } from "./status.js";
import { isObj, type Obj } from "./fieldset.js";

/** A parsed selector: a predicate over an object. */
export type Matcher = (obj: Obj) => boolean;

/** Splits on commas outside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== "");
}

function labelsOf(obj: Obj): Record<string, string> {
  const md = obj.metadata;
  return isObj(md) && isObj(md.labels) ? (md.labels as Record<string, string>) : {};
}

function labelTerm(term: string, raw: string): (l: Record<string, string>) => boolean {
  let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) {
    const [, key, op, list] = m as unknown as [string, string, string, string];
    const values = new Set(list.split(",").map((v) => v.trim()));
    return op === "in" ? (l) => key in l && values.has(l[key]!) : (l) => !(key in l) || !values.has(l[key]!);
  }
  m = /^([\w./-]+)\s*(==|!=|=|>|<)\s*([\w./-]*)$/.exec(term);
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (op === "!=") return (l) => l[key] !== value;
    if (op === ">") return (l) => key in l && Number(l[key]) > Number(value);
    if (op === "<") return (l) => key in l && Number(l[key]) < Number(value);
    return (l) => l[key] === value;
  }
  m = /^(!?)([\w./-]+)$/.exec(term);
  if (m) {
    const [, not, key] = m as unknown as [string, string, string];
    return not ? (l) => !(key in l) : (l) => key in l;
  }
  throw badRequest(`unable to parse requirement: found '${term}', expected: valid label selector (in "${raw}")`);
}

/** Parses a labelSelector query value; empty or missing matches everything. */
export function parseLabelSelector(raw: string | null): Matcher {
  const terms = splitTerms(raw ?? "").map((t) => labelTerm(t, raw ?? ""));
  return (obj) => {
    const l = labelsOf(obj);
    return terms.every((t) => t(l));
  };
}

const FIELDS: Record<string, (o: Obj) => string> = {
  "metadata.name": (o) => String((o.metadata as Obj | undefined)?.name ?? ""),
  "metadata.namespace": (o) => String((o.metadata as Obj | undefined)?.namespace ?? ""),
};

/** Parses a fieldSelector query value (metadata.name and metadata.namespace only). */
export function parseFieldSelector(raw: string | null): Matcher {
  const terms = splitTerms(raw ?? "").map((term) => {
    const m = /^([\w.]+)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${raw}'; can't understand '${term}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const get = FIELDS[field];
    if (!get) throw badRequest(`field label not supported: ${field}`);
    return (o: Obj) => (get(o) === value) === (op !== "!=");
  });
  return (obj) => terms.every((t) => t(obj));
}
