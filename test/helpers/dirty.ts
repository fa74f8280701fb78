/**
 * A seeded generator of dirty trips files, the way real exports arrive: good rows in canonical form
 * and in the variants tripflow accepts, bad rows of every reject reason, blank lines, and file-level
 * quirks (BOM, CRLF, another column order, a trailing empty line). It computes the accounting the
 * pipeline must arrive at from its own choices only: nothing here runs pipeline code.
 *
 * The rules it encodes (they are the contract the tests hold the pipeline to):
 * - line numbers are physical lines; the header is line 1;
 * - a line that is empty or holds only spaces and tabs is not a data line: neither stored nor
 *   rejected nor counted, though it keeps its line number;
 * - every other line after the header is a data line and is either stored (a trip) or rejected with
 *   one reason; each bad row here has exactly one fault, so its reason is known in advance.
 *
 * @example const { bytes, expected } = dirtyFile(7, 2000, { bom: true, crlf: true });
 */
import { picker, rng } from "./random.ts";

/** The five columns, in canonical order (written here, not imported: the generator is independent). */
const COLUMNS = ["region", "origin_coord", "destination_coord", "datetime", "datasource"] as const;
export type Column = (typeof COLUMNS)[number];

/** The start of every reject reason, as a person reads it in audit.rejects. */
export type ReasonKey =
  | "wrong number of fields"
  | "unparseable CSV line"
  | "empty region"
  | "empty datasource"
  | "unparseable origin point"
  | "unparseable destination point"
  | "origin longitude"
  | "origin latitude"
  | "destination longitude"
  | "destination latitude"
  | "unparseable or impossible datetime";

type ExpectedReject = {
  line: number;
  key: ReasonKey;
  /** The reason must start with this (the key, or more of the message where it is known exactly). */
  reason: string;
  /** The line as written, without its line ending. */
  text: string;
  /** The five values in file order (before trimming), when the line splits into five CSV fields; else null. */
  fields: string[] | null;
};

export type DirtyExpectation = {
  /** Lines after the header that are not blank. */
  dataLines: number;
  loaded: number;
  rejected: number;
  byReason: Partial<Record<ReasonKey, number>>;
  /** Stored trips per region name (trimmed, as silver.regions holds it). */
  loadedByRegion: Record<string, number>;
  /** Line numbers of the rejected lines, ascending. */
  rejectedLines: number[];
  /** Line numbers of the stored lines, ascending. */
  loadedLines: number[];
  rejects: ExpectedReject[];
  /** Blank (empty or white-space) lines, including a trailing empty line. */
  blankLines: number;
  /** Lines that PostgreSQL's COPY (FORMAT csv) cannot take as one five-field record (a trailing empty line aside). */
  copyRefusedLines: number[];
};

export type DirtyOptions = {
  /** A UTF-8 byte order mark before the header. */
  bom?: boolean;
  /** CRLF line endings instead of LF. */
  crlf?: boolean;
  /** The column order of the header and of every row (a permutation of COLUMNS). */
  order?: readonly Column[];
  /** Header names in mixed case with surrounding spaces (" Region ,ORIGIN_COORD,…"). */
  messyHeader?: boolean;
  /** An empty line at the very end (the file ends with two line breaks). */
  trailingEmptyLine?: boolean;
  /** false: the last line has no line break. Default true. */
  finalNewline?: boolean;
  /** Share of data lines that are bad (default 0.15). */
  badRate?: number;
  /** Share of good lines written in an accepted variant rather than canonically (default 0.5). */
  variantRate?: number;
  /** Share of lines that are blank (default 0.01). */
  blankRate?: number;
  /**
   * Where lines COPY refuses (wrong field count, stray quotes, blank lines, `\.`) may be placed:
   * default everywhere. Lets a test keep some chunks clean for COPY's fast path.
   */
  copyRefusedAt?: (line: number) => boolean;
  /** Where COPY-refused lines may be placed, the share of bad lines that are of that kind (default: as any kind). */
  copyRefusedShare?: number;
};

const PLAIN_REGIONS = ["Prague", "Turin", "Hamburg"];
const ODD_REGIONS = ["Düsseldorf", "São Paulo", "Washington, D.C.", "Frankfurt am Main"];
const PLAIN_SOURCES = ["funny_car", "baba_car", "cheap_mobile", "bad_diesel_vehicles", "pt_search_app"];
const ODD_SOURCES = ["cheap, mobile", 'feed "A"', "Ünïcode app"];

type Good = { region: string; o: [number, number]; d: [number, number]; datetime: string; datasource: string };
type FieldStyle = "plain" | "quoted" | "spaced" | "spacedQuoted";

/** Builds a dirty file and what tripflow must make of it. Same seed and options, same bytes. */
export function dirtyFile(
  seed: number,
  lines: number,
  options: DirtyOptions = {},
): { bytes: Buffer; expected: DirtyExpectation } {
  const random = rng(seed);
  const pick = picker(random);
  const chance = (p: number) => random() < p;
  const order = options.order ?? COLUMNS;
  if (order.length !== 5 || COLUMNS.some((c) => !order.includes(c)))
    throw new Error(`order must be a permutation of ${COLUMNS.join(",")}`);
  const badRate = options.badRate ?? 0.15;
  const variantRate = options.variantRate ?? 0.5;
  const blankRate = options.blankRate ?? 0.01;
  const refusedOk = options.copyRefusedAt ?? (() => true);
  const eol = options.crlf ? "\r\n" : "\n";

  const expected: DirtyExpectation = {
    dataLines: 0,
    loaded: 0,
    rejected: 0,
    byReason: {},
    loadedByRegion: {},
    rejectedLines: [],
    loadedLines: [],
    rejects: [],
    blankLines: 0,
    copyRefusedLines: [],
  };

  const coord = (lo: number, hi: number) => lo + random() * (hi - lo);
  const fixed = (x: number) => x.toFixed(6);
  const pointText = (p: [number, number], style: number, num: (x: number) => string = fixed) => {
    const [x, y] = [num(p[0]), num(p[1])];
    switch (style) {
      case 1:
        return `POINT(${x} ${y})`;
      case 2:
        return `point (${x} ${y})`;
      case 3:
        return `point(${x} ${y})`;
      case 4:
        return `Point ( ${x}  ${y} )`;
      default:
        return `POINT (${x} ${y})`;
    }
  };
  const pad = (n: number) => String(n).padStart(2, "0");
  const when = () => {
    // 2018-01-01 .. 2020-12-31, whole seconds
    const t = new Date(Date.UTC(2018, 0, 1) + Math.floor(random() * 1096 * 86_400) * 1000);
    return {
      date: `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`,
      hm: `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`,
      s: pad(t.getUTCSeconds()),
    };
  };

  /** The five logical values of a good row, canonical or in an accepted variant. */
  const goodValues = (variant: boolean): { values: Record<Column, string>; region: string } => {
    const g: Good = {
      region: variant && chance(0.3) ? pick(ODD_REGIONS) : pick(PLAIN_REGIONS),
      o: [coord(5, 16), coord(44, 55)],
      d: [coord(5, 16), coord(44, 55)],
      datetime: "",
      datasource: variant && chance(0.3) ? pick(ODD_SOURCES) : pick(PLAIN_SOURCES),
    };
    const w = when();
    g.datetime = `${w.date} ${w.hm}:${w.s}`;
    let o = pointText(g.o, 0);
    let d = pointText(g.d, 0);
    if (variant) {
      const coords = random();
      if (coords < 0.2) {
        // negative coordinates (southern and western hemispheres)
        g.o = [-coord(40, 80), -coord(0, 40)];
        g.d = [-coord(40, 80), -coord(0, 40)];
      } else if (coords < 0.3) {
        // the edges of the valid range are valid
        g.o = [pick([-180, 180]), pick([-90, 90])];
        g.d = [pick([-180, 180]), pick([90, -90])];
      }
      const integer = chance(0.2);
      const num = integer ? (x: number) => String(Math.round(x)) : Number.isInteger(g.o[0]) ? String : fixed;
      o = pointText(g.o, Math.floor(random() * 5), num);
      d = pointText(g.d, Math.floor(random() * 5), num);
      const dt = random();
      if (dt < 0.2) g.datetime = `${w.date}T${w.hm}:${w.s}`;
      else if (dt < 0.35) g.datetime = `${w.date} ${w.hm}:${w.s}.${pick(["5", "123", "000001", "999999"])}`;
      else if (dt < 0.45) g.datetime = `${w.date} ${w.hm}`;
      else if (dt < 0.5) g.datetime = "2020-02-29 23:59:59"; // a leap day
    }
    return {
      values: {
        region: g.region,
        origin_coord: o,
        destination_coord: d,
        datetime: g.datetime,
        datasource: g.datasource,
      },
      region: g.region,
    };
  };

  const styles = (variant: boolean): Record<Column, FieldStyle> => {
    const s = {} as Record<Column, FieldStyle>;
    for (const c of COLUMNS)
      s[c] = variant ? pick(["plain", "plain", "quoted", "spaced", "spacedQuoted"] as const) : "plain";
    return s;
  };
  const spaces = () => " ".repeat(1 + Math.floor(random() * 3));
  /** One field as written: quoted when it must be (a comma, a quote) or when the style says so. */
  const render = (value: string, style: FieldStyle) => {
    const quoted = style === "quoted" || style === "spacedQuoted" || /[",\r\n]/.test(value);
    const body = quoted ? `"${value.replaceAll('"', '""')}"` : value;
    return style === "spaced" || style === "spacedQuoted" ? `${spaces()}${body}${spaces()}` : body;
  };
  const renderRow = (values: Record<Column, string>, st: Record<Column, FieldStyle>) =>
    order.map((c) => render(values[c], st[c]));

  const out: string[] = [];
  const header = options.messyHeader
    ? order.map((c, i) => (i % 2 === 0 ? ` ${c[0]!.toUpperCase()}${c.slice(1)} ` : c.toUpperCase())).join(",")
    : order.join(",");
  out.push(header);

  const reject = (
    line: number,
    key: ReasonKey,
    text: string,
    fields: string[] | null,
    reason: string = key,
    copyRefused = false,
  ) => {
    expected.dataLines++;
    expected.rejected++;
    expected.byReason[key] = (expected.byReason[key] ?? 0) + 1;
    expected.rejectedLines.push(line);
    expected.rejects.push({ line, key, reason, text, fields });
    if (copyRefused) expected.copyRefusedLines.push(line);
  };

  type BadKind =
    | "fields4"
    | "fields6"
    | "backslashDot"
    | "strayQuotes"
    | "allEmpty"
    | "badPoint"
    | "longitude"
    | "latitude"
    | "impossibleDate"
    | "notADate"
    | "emptyRegion"
    | "emptyDatasource";
  const VALUE_FAULTS: BadKind[] = [
    "badPoint",
    "longitude",
    "latitude",
    "impossibleDate",
    "notADate",
    "emptyRegion",
    "emptyDatasource",
    "allEmpty",
  ];
  const STRUCTURAL: BadKind[] = ["fields4", "fields6", "backslashDot", "strayQuotes"];

  for (let line = 2; line <= lines + 1; line++) {
    const structuralOk = refusedOk(line);
    if (structuralOk && chance(blankRate)) {
      out.push(pick(["", "   ", " \t "]));
      expected.blankLines++;
      expected.copyRefusedLines.push(line);
      continue;
    }
    if (!chance(badRate)) {
      const variant = chance(variantRate);
      const { values, region } = goodValues(variant);
      out.push(renderRow(values, styles(variant)).join(","));
      expected.dataLines++;
      expected.loaded++;
      expected.loadedLines.push(line);
      expected.loadedByRegion[region] = (expected.loadedByRegion[region] ?? 0) + 1;
      continue;
    }
    const pairOk = structuralOk && line + 1 <= lines + 1 && refusedOk(line + 1);
    const structural = STRUCTURAL.filter((k) => k !== "strayQuotes" || pairOk);
    const share = options.copyRefusedShare;
    const kind = !structuralOk
      ? pick(VALUE_FAULTS)
      : share === undefined
        ? pick([...VALUE_FAULTS, ...structural])
        : pick(chance(share) ? structural : VALUE_FAULTS);
    const { values } = goodValues(true);
    const st = styles(true);
    const side = chance(0.5) ? "origin" : "destination";
    const col: Column = side === "origin" ? "origin_coord" : "destination_coord";
    const fieldsOf = () => order.map((c) => values[c]);
    switch (kind) {
      case "fields4":
      case "fields6": {
        const fields = renderRow(values, st);
        if (kind === "fields4") fields.splice(Math.floor(random() * 5), 1);
        else fields.push(pick(["extra", "", '"x, y"']));
        const text = fields.join(",");
        out.push(text);
        reject(
          line,
          "wrong number of fields",
          text,
          null,
          `wrong number of fields: expected 5, found ${fields.length}`,
          true,
        );
        break;
      }
      case "backslashDot": {
        // COPY's end-of-data marker, alone on a line: it must not end the chunk early.
        out.push("\\.");
        reject(line, "wrong number of fields", "\\.", null, "wrong number of fields: expected 5, found 1", true);
        break;
      }
      case "strayQuotes": {
        // Two consecutive lines, each with one stray quote: in field p, opening on the first line and
        // closing on the second. COPY would read them as ONE record of five fields (a quoted field
        // with a line break in it); line by line, each is an unparseable CSV line.
        const p = Math.floor(random() * 4);
        const first = order.map((c) => values[c].replace(/[",]/g, ""));
        const second = goodValues(false).values;
        const secondFields = order.map((c) => second[c]);
        const a = first.map((v, i) => (i === p ? `"${v}` : v)).join(",");
        const b = secondFields.map((v, i) => (i === p ? `${v}"` : v)).join(",");
        out.push(a, b);
        reject(line, "unparseable CSV line", a, null, "unparseable CSV line: unterminated quoted field", true);
        reject(
          line + 1,
          "unparseable CSV line",
          b,
          null,
          "unparseable CSV line: a quote inside an unquoted field",
          true,
        );
        line++;
        break;
      }
      case "allEmpty": {
        out.push(",,,,");
        reject(line, "empty region", ",,,,", ["", "", "", "", ""]);
        break;
      }
      case "badPoint": {
        values[col] = pick(["POINT (abc 1)", "POINT (1)", "LINESTRING (1 2, 3 4)", "14.4 50.1", "POINT (1 2 3)", ""]);
        out.push(renderRow(values, st).join(","));
        reject(line, `unparseable ${side} point`, out.at(-1)!, fieldsOf());
        break;
      }
      case "longitude": {
        const lon = pick([200, -180.5, 180.000001, -999]);
        values[col] = `POINT (${lon} ${fixed(coord(-80, 80))})`;
        out.push(renderRow(values, st).join(","));
        reject(line, `${side} longitude`, out.at(-1)!, fieldsOf(), `${side} longitude ${lon} outside -180..180`);
        break;
      }
      case "latitude": {
        const lat = pick([91, -91, 90.5, -95.25]);
        values[col] = `POINT (${fixed(coord(-170, 170))} ${lat})`;
        out.push(renderRow(values, st).join(","));
        reject(line, `${side} latitude`, out.at(-1)!, fieldsOf(), `${side} latitude ${lat} outside -90..90`);
        break;
      }
      case "impossibleDate":
      case "notADate": {
        values.datetime =
          kind === "notADate"
            ? pick(["not a date", "", "28/05/2018 09:03", "2018-05-28"])
            : pick([
                "2021-02-30 10:00:00",
                "2019-02-29 00:00:00",
                "2019-13-01 00:00:00",
                "2019-04-31 12:00:00",
                "2019-01-01 24:00:00",
                "2019-01-01 10:60:00",
              ]);
        out.push(renderRow(values, st).join(","));
        reject(line, "unparseable or impossible datetime", out.at(-1)!, fieldsOf());
        break;
      }
      case "emptyRegion":
      case "emptyDatasource": {
        const c: Column = kind === "emptyRegion" ? "region" : "datasource";
        values[c] = pick(["", "   "]);
        out.push(renderRow(values, st).join(","));
        reject(line, kind === "emptyRegion" ? "empty region" : "empty datasource", out.at(-1)!, fieldsOf());
        break;
      }
    }
  }

  let text = out.join(eol);
  if (options.finalNewline !== false || options.trailingEmptyLine) text += eol;
  if (options.trailingEmptyLine) {
    text += eol;
    expected.blankLines++;
  }
  const body = Buffer.from(text, "utf8");
  const bytes = options.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
  return { bytes, expected };
}

/** A seeded permutation of the columns (never the canonical order). */
export function shuffledColumns(seed: number): Column[] {
  const random = rng(seed);
  for (;;) {
    const cols = [...COLUMNS];
    for (let i = cols.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [cols[i], cols[j]] = [cols[j]!, cols[i]!];
    }
    if (cols.some((c, i) => c !== COLUMNS[i])) return cols;
  }
}
