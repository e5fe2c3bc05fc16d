package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/css"
	"github.com/tdewolff/minify/v2/js"
)

// hashLen is how many hex digits of a file's SHA-256 its hashed name
// carries: "js/main.js" is served as "js/main.<10 hex>.js" too.
const hashLen = 10

// variant is one encoding of a file's bytes.
type variant struct {
	encoding string // "", "gzip" or "br"
	body     []byte
	etag     string // strong, one per encoding
}

// asset is one file of the client, as served: references to other files
// rewritten to their hashed URLs, compressed once.
type asset struct {
	url      string // the hashed URL, "/js/main.0123456789.js"; "/" for index.html
	ctype    string
	variants []variant // identity first, then the encodings that are smaller
}

// assetTable is the client's files by URL, built once from the embedded
// tree.
type assetTable struct {
	index  *asset            // index.html
	hashed map[string]*asset // hashed URL -> asset (served immutable)
	plain  map[string]*asset // "/js/main.js" -> asset (served no-cache)
}

// moduleSpec matches the specifier of a static import or export ... from,
// a side-effect import and a dynamic import() with a string literal.
var moduleSpec = regexp.MustCompile(`((?:\bfrom|\bimport)\s*\(?\s*)"(\.{1,2}/[^"]+)"`)

// preloadList matches a string literal "modulepreload:./a.js ./b.js" in a
// module: it is replaced by an array literal of the hashed URLs of those
// modules and of every module they import statically, for the module to
// preload a graph it will import() (main.js: the app's, when there is a
// session).
var preloadList = regexp.MustCompile(`"modulepreload:([^"]+)"`)

// assetRef matches a string literal "asset:/css/x.css" in a module: it is
// replaced by the file's hashed URL, for a module that refers to a file
// by itself (main.js: the call UI's stylesheet, added with the app;
// notify.js: the icon of a notification).
var assetRef = regexp.MustCompile(`()"asset:(/[^"]+)(")`)

// htmlRef matches an absolute href or src attribute in index.html, and
// cssRef an absolute url("...") in a stylesheet.
var (
	htmlRef = regexp.MustCompile(`((?:href|src)=")(/[^"]+)(")`)
	cssRef  = regexp.MustCompile(`(url\()"(/[^"]+)("\))`)
)

// builder hashes files in dependency order: a file's hash covers the
// hashed names of the files it refers to, so a change anywhere below
// changes every URL above it.
type builder struct {
	files   fs.FS
	urls    map[string]string // "/js/x.js" -> hashed URL
	bodies  map[string][]byte // "/js/x.js" -> rewritten body
	imports map[string][]string
	visit   map[string]bool // on the current path, for cycles
}

// buildAssets reads every file of files and builds the table. It fails on
// an import of a file that does not exist and on an import cycle.
func buildAssets(files fs.FS) (*assetTable, error) {
	b := &builder{files: files, urls: map[string]string{}, bodies: map[string][]byte{},
		imports: map[string][]string{}, visit: map[string]bool{}}
	var names []string
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "index.html" {
			return err
		}
		names = append(names, "/"+p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: walk the client's files: %w", err)
	}
	t := &assetTable{hashed: map[string]*asset{}, plain: map[string]*asset{}}
	for _, name := range names {
		if _, err := b.hash(name); err != nil {
			return nil, err
		}
		a := newAsset(b.urls[name], name, b.bodies[name])
		t.hashed[a.url] = a
		t.plain[name] = a
	}
	index, err := b.index()
	if err != nil {
		return nil, err
	}
	t.index = newAsset("/", "/index.html", index)
	return t, nil
}

// hash returns the hashed URL of name, hashing what it refers to first.
func (b *builder) hash(name string) (string, error) {
	if u, ok := b.urls[name]; ok {
		return u, nil
	}
	if b.visit[name] {
		return "", fmt.Errorf("web: import cycle through %s", name)
	}
	b.visit[name] = true
	defer delete(b.visit, name)
	body, err := fs.ReadFile(b.files, name[1:])
	if err != nil {
		return "", fmt.Errorf("web: read %s: %w", name, err)
	}
	switch path.Ext(name) {
	case ".js":
		body, err = b.rewrite(body, moduleSpec, func(spec string) string { return path.Join(path.Dir(name), spec) }, name)
		if err == nil {
			body, err = b.preloads(body, name)
		}
		if err == nil {
			body, err = b.rewrite(body, assetRef, func(ref string) string { return ref }, name)
		}
	case ".css":
		body, err = b.rewrite(body, cssRef, func(ref string) string { return ref }, name)
	}
	if err == nil {
		body, err = minified(name, body)
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	ext := path.Ext(name)
	u := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:hashLen] + ext
	b.urls[name], b.bodies[name] = u, body
	return u, nil
}

// minifier strips the client's comments and whitespace and shortens its
// local names: about half of the sources are doc comments, which the
// browser need not download. Its output is deterministic, so a file's
// hash still changes only when the file (or one it refers to) does.
var minifier = func() *minify.M {
	m := minify.New()
	m.Add("text/javascript", &js.Minifier{Version: 2022})
	m.Add("text/css", &css.Minifier{})
	return m
}()

// minified is body minified when name is a script or a stylesheet, as it
// is otherwise. A file the minifier cannot parse fails the start, as an
// import of a missing file does.
func minified(name string, body []byte) ([]byte, error) {
	var mediatype string
	switch path.Ext(name) {
	case ".js":
		mediatype = "text/javascript"
	case ".css":
		mediatype = "text/css"
	default:
		return body, nil
	}
	out, err := minifier.Bytes(mediatype, body)
	if err != nil {
		return nil, fmt.Errorf("web: minify %s: %w", name, err)
	}
	return out, nil
}

// rewrite replaces every reference re finds in body (its second group,
// resolved to a file name by resolve) by the file's hashed URL.
func (b *builder) rewrite(body []byte, re *regexp.Regexp, resolve func(string) string, from string) ([]byte, error) {
	var failed error
	out := re.ReplaceAllFunc(body, func(m []byte) []byte {
		g := re.FindSubmatch(m)
		target := resolve(string(g[2]))
		u, err := b.hash(target)
		if err != nil {
			if failed == nil {
				failed = fmt.Errorf("%s refers to %s: %w", from, target, err)
			}
			return m
		}
		b.imports[from] = append(b.imports[from], target)
		rest := `"`
		if len(g) > 3 {
			rest = string(g[3])
		}
		return []byte(string(g[1]) + `"` + u + rest)
	})
	return out, failed
}

// preloads replaces each "modulepreload:..." literal of body (the module
// name) by the array of hashed URLs it asks for.
func (b *builder) preloads(body []byte, name string) ([]byte, error) {
	var failed error
	out := preloadList.ReplaceAllFunc(body, func(m []byte) []byte {
		var roots []string
		for _, spec := range strings.Fields(string(preloadList.FindSubmatch(m)[1])) {
			roots = append(roots, path.Join(path.Dir(name), spec))
		}
		var urls []string
		for _, mod := range append(roots, b.staticImports(roots)...) {
			u, err := b.hash(mod)
			if err != nil {
				failed = fmt.Errorf("%s preloads %s: %w", name, mod, err)
				return m
			}
			if !slices.Contains(urls, `"`+u+`"`) {
				urls = append(urls, `"`+u+`"`)
			}
		}
		return []byte("[" + strings.Join(urls, ", ") + "]")
	})
	return out, failed
}

// index rewrites index.html: hashed URLs for its files, and a
// modulepreload hint for every module the entry point imports statically,
// so that the browser fetches the import chain at once.
func (b *builder) index() ([]byte, error) {
	body, err := fs.ReadFile(b.files, "index.html")
	if err != nil {
		return nil, fmt.Errorf("web: read index.html: %w", err)
	}
	var entries []string
	var failed error
	body = htmlRef.ReplaceAllFunc(body, func(m []byte) []byte {
		g := htmlRef.FindSubmatch(m)
		name := string(g[2])
		u, ok := b.urls[name]
		if !ok {
			failed = fmt.Errorf("web: index.html refers to %s, which does not exist", name)
			return m
		}
		if path.Ext(name) == ".js" {
			entries = append(entries, name)
		}
		return []byte(string(g[1]) + u + string(g[3]))
	})
	if failed != nil {
		return nil, failed
	}
	var hints bytes.Buffer
	for _, name := range b.staticImports(entries) {
		fmt.Fprintf(&hints, "<link rel=\"modulepreload\" href=\"%s\">\n", b.urls[name])
	}
	return bytes.Replace(body, []byte("</head>"), append(hints.Bytes(), "</head>"...), 1), nil
}

// staticImports lists, sorted, the modules the entries import statically
// (directly or not), without the entries themselves: a dynamic import()
// is left for when the code asks for it.
func (b *builder) staticImports(entries []string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		for _, dep := range b.staticDeps(name) {
			if !seen[dep] {
				seen[dep] = true
				walk(dep)
			}
		}
	}
	for _, e := range entries {
		walk(e)
	}
	for _, e := range entries {
		delete(seen, e)
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// staticDeps is the modules name imports with an import or export
// statement (not import()).
func (b *builder) staticDeps(name string) []string {
	body, err := fs.ReadFile(b.files, name[1:])
	if err != nil {
		return nil
	}
	var deps []string
	for _, g := range moduleSpec.FindAllSubmatch(body, -1) {
		if bytes.Contains(g[1], []byte("(")) {
			continue
		}
		deps = append(deps, path.Join(path.Dir(name), string(g[2])))
	}
	return deps
}

// newAsset compresses body once with gzip and brotli, keeping an encoding
// only when it is smaller.
func newAsset(url, name string, body []byte) *asset {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:])[:2*hashLen]
	a := &asset{url: url, ctype: ctype, variants: []variant{{body: body, etag: `"` + tag + `"`}}}
	for _, enc := range []string{"br", "gzip"} {
		if z := compress(enc, body); len(z) < len(body) {
			a.variants = append(a.variants, variant{encoding: enc, body: z, etag: `"` + tag + "-" + enc + `"`})
		}
	}
	return a
}

// compress encodes body with enc, "br" or "gzip": gzip at its best ratio,
// brotli at level 9, near its best at a fraction of level 11's start-up time.
func compress(enc string, body []byte) []byte {
	var buf bytes.Buffer
	if enc == "br" {
		w := brotli.NewWriterLevel(&buf, 9)
		w.Write(body) // writes to a bytes.Buffer do not fail
		w.Close()
		return buf.Bytes()
	}
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	w.Write(body)
	w.Close()
	return buf.Bytes()
}
