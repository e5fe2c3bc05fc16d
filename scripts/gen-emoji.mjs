// Builds confab's emoji set from the unpacked @twemoji/svg and
// emojibase-data packages: run it through scripts/gen-emoji, which fetches
// the pinned versions. Usage: node gen-emoji.mjs TWEMOJI_DIR EMOJIBASE_DIR REPO_ROOT
//
// Every emoji of emojibase that Node's /\p{RGI_Emoji}/v knows and Twemoji
// draws is kept, in its fully-qualified form (the one browsers, keyboards
// and the client's emojify() produce). Outputs (deterministic bytes):
//   web/emoji/twemoji.zip: "<name>.svg" for each emoji, named as Twemoji
//     names its files (code points in hex joined by "-", U+FE0F left out
//     unless the sequence has a U+200D), and "data.json" for the picker
//     and the :shortcode: completion:
//       {"groups": [label, ...],
//        "emoji": [[emoji, name, group index, [shortcode, ...], "keywords",
//                   [[skin emoji, shortcode, tone], ...]], ...]}
//     tone is 1-5 for one skin tone, [a, b] for two people's.
//     Components (skin tones, hair) are in the zip, not in "emoji".
//   web/static/js/util/emoji-base.js: "/emoji/<10 hex of SHA-256 of the zip>/".
//   domain/emoji_set.go: every emoji of the set, U+FE0F left out, as hex.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { join } from "node:path";

const [twemojiDir, baseDir, root] = process.argv.slice(2);
if (!root) {
  console.error("usage: node gen-emoji.mjs TWEMOJI_DIR EMOJIBASE_DIR REPO_ROOT");
  process.exit(2);
}
const json = (p) => JSON.parse(readFileSync(join(baseDir, p), "utf8"));
const data = json("en/data.json");
const messages = json("en/messages.json");
const github = json("en/shortcodes/github.json");
const emojibase = json("en/shortcodes/emojibase.json");

const RGI = /^\p{RGI_Emoji}$/v;
const FE0F = /\uFE0F/g;

/** The fully-qualified form of s, or "" when it is not RGI. */
function canonical(s) {
  for (const c of [s.replace(FE0F, ""), s]) if (RGI.test(c)) return c;
  // Keycaps and text-default symbols need U+FE0F after the first code point.
  const cps = [...s.replace(FE0F, "")];
  const q = cps[0] + "\uFE0F" + cps.slice(1).join("");
  return RGI.test(q) ? q : "";
}

/** Twemoji's file name for an emoji. */
function twemojiName(s) {
  const t = s.includes("\u200D") ? s : s.replace(FE0F, "");
  return [...t].map((c) => c.codePointAt(0).toString(16)).join("-");
}

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const files = new Map(); // name -> svg bytes
let skipped = 0;

/** The canonical emoji and its image name, or null. */
function keep(e) {
  const u = canonical(e.emoji);
  if (!u) {
    skipped++;
    return null;
  }
  const name = twemojiName(u);
  const path = join(twemojiDir, name + ".svg");
  if (!existsSync(path)) {
    skipped++;
    return null;
  }
  files.set(name, readFileSync(path));
  return u;
}

// Shortcodes: GitHub's (as Slack and GitHub spell them: :+1:, :smile:)
// first, then emojibase's for what is still free; a code names one emoji.
const claimed = new Set();
const codes = new Map(); // hexcode -> [code]
for (const table of [github, emojibase]) {
  for (const e of data) {
    for (const hex of [e.hexcode, ...(e.skins || []).map((s) => s.hexcode)]) {
      for (const c of list(table[hex])) {
        if (claimed.has(c)) continue;
        claimed.add(c);
        if (!codes.has(hex)) codes.set(hex, []);
        codes.get(hex).push(c);
      }
    }
  }
}

const groupKeys = messages.groups.filter((g) => g.key !== "component").sort((a, b) => a.order - b.order);
const groupIndex = new Map(groupKeys.map((g, i) => [g.order, i]));
const label = (s) => s.charAt(0).toUpperCase() + s.slice(1);

const out = [];
const set = new Set();
for (const e of [...data].sort((a, b) => (a.order ?? 1e9) - (b.order ?? 1e9))) {
  if (e.group === undefined) continue; // regional indicator letters
  const u = keep(e);
  if (!u) continue;
  set.add(u);
  const skins = [];
  for (const s of e.skins || []) {
    const su = keep(s);
    if (!su) continue;
    set.add(su);
    skins.push([su, (codes.get(s.hexcode) || [])[0] || "", s.tone]);
  }
  if (e.group === 2) continue; // components: images only
  const sc = codes.get(e.hexcode) || [e.label.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "")];
  const row = [u, e.label, groupIndex.get(e.group), sc, (e.tags || []).join(" ")];
  if (skins.length) row.push(skins);
  out.push(row);
}

const body = JSON.stringify({ groups: groupKeys.map((g) => label(g.message)), emoji: out });
files.set("data", Buffer.from(body));

// A zip with fixed times and sorted names: the same input, the same bytes.
const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
const parts = [];
const central = [];
let offset = 0;
const names = [...files.keys()].sort();
for (const key of names) {
  const name = Buffer.from(key === "data" ? "data.json" : key + ".svg");
  const raw = files.get(key);
  const z = deflateRawSync(raw, { level: 9 });
  const crc = crc32(raw);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0x0800, 6); // UTF-8 names
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt16LE(0, 10); // time 00:00
  local.writeUInt16LE(0x21, 12); // date 1980-01-01
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(z.length, 18);
  local.writeUInt32LE(raw.length, 22);
  local.writeUInt16LE(name.length, 26);
  local.writeUInt16LE(0, 28);
  const cd = Buffer.alloc(46);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(20, 4);
  cd.writeUInt16LE(20, 6);
  local.copy(cd, 8, 6, 28); // flags .. name length
  cd.writeUInt32LE(offset, 42);
  central.push(cd, name);
  parts.push(local, name, z);
  offset += local.length + name.length + z.length;
}
const cdBuf = Buffer.concat(central);
const end = Buffer.alloc(22);
end.writeUInt32LE(0x06054b50, 0);
end.writeUInt16LE(names.length, 8);
end.writeUInt16LE(names.length, 10);
end.writeUInt32LE(cdBuf.length, 12);
end.writeUInt32LE(offset, 16);
const zip = Buffer.concat([...parts, cdBuf, end]);
writeFileSync(join(root, "web/emoji/twemoji.zip"), zip);

const hash = createHash("sha256").update(zip).digest("hex").slice(0, 10);
writeFileSync(join(root, "web/static/js/util/emoji-base.js"),
  "// Generated by scripts/gen-emoji; do not edit. The URL prefix of the\n" +
  "// bundled emoji images and data (web/emoji.go), named by their hash.\n" +
  `export const EMOJI_BASE = "/emoji/${hash}/";\n`);

const hexes = [...set].map((u) => [...u.replace(FE0F, "")].map((c) => c.codePointAt(0).toString(16)).join("-")).sort();
let lines = "";
for (let i = 0; i < hexes.length; i += 8) lines += "\t\"" + hexes.slice(i, i + 8).join(" ") + " \" +\n";
writeFileSync(join(root, "domain/emoji_set.go"),
  "// Code generated by scripts/gen-emoji; DO NOT EDIT.\n\npackage domain\n\n" +
  "// emojiSetHex is every emoji a reaction may be (the bundled set of\n" +
  "// Twemoji 15.0 and emojibase 17.0), each as its code points in hex\n" +
  "// joined by \"-\", U+FE0F left out, separated by spaces.\n" +
  "const emojiSetHex = \"\" +\n" + lines + "\t\"\"\n");

console.log(`emoji: ${out.length} in the picker, ${set.size} in the set, ${files.size - 1} images, ${skipped} skipped; ` +
  `data.json ${body.length} bytes; zip ${zip.length} bytes; hash ${hash}`);
