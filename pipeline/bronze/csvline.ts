/**
 * Splits one CSV line (RFC 4180 quoting, no line break inside) into fields. Used for the lines that
 * hold a quote (pipeline/bronze/parse.ts splits the others at each comma), so it favours clear errors.
 */
export function splitCsvLine(line: string): { fields: string[] } | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    // Leading spaces before a quote are tolerated: `a, "b"` is what people type.
    let j = i;
    while (line[j] === " ") j++;
    if (line[j] === '"') {
      let value = "";
      j++;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return { error: `unterminated quoted field starting at character ${i + 1}` };
        value += line.slice(j, q);
        if (line[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      while (line[j] === " ") j++;
      if (j < line.length && line[j] !== ",")
        return { error: `unexpected text after the closing quote at character ${j + 1}` };
      fields.push(value);
      if (j >= line.length) return { fields };
      i = j + 1;
    } else {
      const c = line.indexOf(",", i);
      const value = c < 0 ? line.slice(i) : line.slice(i, c);
      if (value.includes('"'))
        return { error: `a quote inside an unquoted field at character ${i + value.indexOf('"') + 1}` };
      fields.push(value);
      if (c < 0) return { fields };
      i = c + 1;
    }
  }
}

const SPECIAL = /[\\\t\n\r]/;

/** A value in PostgreSQL's COPY text format. */
export function copyText(value: string | null): string {
  if (value === null) return "\\N";
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (ch) =>
    ch === "\\" ? "\\\\" : ch === "\t" ? "\\t" : ch === "\n" ? "\\n" : "\\r",
  );
}
