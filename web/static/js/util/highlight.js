// A small highlighter for code blocks, loaded by markdown.js when a block
// with a language shows: comments, strings, numbers and keywords of a few
// common languages, as spans around text nodes (never markup). Unknown
// languages stay plain.

const C_LIKE = "break case catch class const continue default do else enum extends final finally for goto if import new private protected public return static struct switch this throw try void volatile while true false null";
const LANGS = {
  js: { kw: "async await break case catch class const continue debugger default delete do else export extends finally for from function if import in instanceof let new of return super switch this throw try typeof var void while with yield true false null undefined interface type enum implements readonly as", line: "//", block: true, str: "\"'`" },
  go: { kw: "break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false iota", line: "//", block: true, str: "\"'`" },
  py: { kw: "and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield None True False self", line: "#", str: "\"'" },
  rust: { kw: "as async await break const continue crate else enum extern fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait type unsafe use where while true false", line: "//", block: true, str: "\"" },
  c: { kw: C_LIKE + " int long short char float double unsigned signed sizeof typedef union auto extern register inline bool boolean byte package interface implements var val fun fn namespace using template typename virtual override delete nullptr", line: "//", block: true, str: "\"'" },
  sh: { kw: "if then else elif fi for while until do done case esac in function return local export readonly set unset echo exit cd", line: "#", str: "\"'" },
  sql: { kw: "select from where and or not insert into values update set delete create table index view drop alter add join left right inner outer on as group by order having limit offset distinct union all null is in like between case when then else end primary key references default begin commit rollback", line: "--", block: true, str: "'\"", fold: true },
  css: { kw: "", line: "", block: true, str: "\"'" },
  json: { kw: "true false null", line: "", str: "\"" },
};
const ALIAS = {
  javascript: "js", jsx: "js", ts: "js", tsx: "js", typescript: "js", mjs: "js", golang: "go", python: "py", python3: "py",
  rs: "rust", cpp: "c", "c++": "c", h: "c", hpp: "c", cc: "c", java: "c", kotlin: "c", kt: "c", cs: "c", csharp: "c", swift: "c",
  bash: "sh", shell: "sh", zsh: "sh", console: "sh", postgres: "sql", postgresql: "sql", sqlite: "sql", scss: "css",
};

const compiled = new Map();

function grammar(lang) {
  const name = ALIAS[lang] || lang;
  const g = LANGS[name];
  if (!g) return null;
  if (compiled.has(name)) return compiled.get(name);
  const parts = [];
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  if (g.block) parts.push("(/\\*[\\s\\S]*?(?:\\*/|(?![\\s\\S])))");
  else parts.push("(?!)");
  parts.push(g.line ? `(${esc(g.line)}[^\\n]*)` : "(?!)");
  parts.push(`(${[...g.str].map((q) => `${q}(?:\\\\[\\s\\S]|(?!${q})[^\\\\${q === "`" ? "" : "\\n"}])*(?:${q}|$)`).join("|")})`);
  parts.push("(\\b(?:0[xX][0-9a-fA-F_]+|\\d[\\d_]*(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\b)");
  parts.push("([A-Za-z_$][\\w$]*)");
  const c = { re: new RegExp(parts.join("|"), "gm"), kw: new Set(g.kw.split(" ").filter(Boolean)), fold: !!g.fold };
  compiled.set(name, c);
  return c;
}

const CLASSES = [null, "hl-c", "hl-c", "hl-s", "hl-n"];

/** Highlights the text of code (an element holding only text) as lang. */
export function highlight(code, lang) {
  const g = grammar(lang);
  if (!g || code.childElementCount) return;
  const text = code.textContent;
  const out = [];
  let last = 0;
  g.re.lastIndex = 0;
  for (const m of text.matchAll(g.re)) {
    let cls = null;
    for (let k = 1; k <= 4; k++) if (m[k] !== undefined) cls = CLASSES[k];
    if (!cls && m[5] !== undefined && g.kw.has(g.fold ? m[5].toLowerCase() : m[5])) cls = "hl-k";
    if (!cls) continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = m[0];
    out.push(span);
    last = m.index + m[0].length;
  }
  if (!out.length) return;
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  code.replaceChildren(...out);
}
