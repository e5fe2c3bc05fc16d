package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/confabhq/confab/blobstore"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/imaging"
	"github.com/google/uuid"
)

// Attachments: uploads go to the blob store first (images checked,
// stripped of their metadata and thumbnailed by package imaging), then
// AttachmentUploaded records them in the uploader's stream (RecordUpload);
// a message takes them by ID. Blobs are served to the members of the room
// whose message holds them, and to the uploader before that.

// Error codes of uploads.
const (
	CodeTooLarge      = "too_large"
	CodeQuotaExceeded = "quota_exceeded"
)

// Upload defaults.
const (
	DefaultMaxUpload = 25 << 20
)

// blobCSP is the Content-Security-Policy of a served blob: nothing runs,
// nothing loads, whatever the bytes are, even if opened as a page.
const blobCSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox"

// attachmentJSON is an attachment as the API shows it.
type attachmentJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Size         int64  `json:"size"`
	ContentType  string `json:"content_type"`
	Width        int    `json:"width,omitempty"`
	Height       int    `json:"height,omitempty"`
	Digest       string `json:"digest"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

func toAttachmentJSON(a domain.Attachment) attachmentJSON {
	name := url.PathEscape(a.Name)
	if name == "thumbnail" || name == "" {
		name = "file" // the thumbnail route's name; the name in the URL is for people, not the server
	}
	j := attachmentJSON{ID: a.ID, Name: a.Name, Size: a.Size, ContentType: a.ContentType, Width: a.Width, Height: a.Height, Digest: a.Digest,
		URL: "/api/v1/attachments/" + url.PathEscape(a.ID) + "/" + name}
	if imaging.IsImage(a.ContentType) {
		j.ThumbnailURL = "/api/v1/attachments/" + url.PathEscape(a.ID) + "/thumbnail"
	}
	return j
}

func toAttachmentsJSON(as []domain.Attachment) []attachmentJSON {
	if len(as) == 0 {
		return nil
	}
	out := make([]attachmentJSON, len(as))
	for i, a := range as {
		out[i] = toAttachmentJSON(a)
	}
	return out
}

// isUpload reports whether r is an upload, whose body is the file's raw
// bytes of any type rather than JSON.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/rooms/") && strings.HasSuffix(r.URL.Path, "/attachments") &&
		strings.Count(r.URL.Path, "/") == 5
}

// tooLarge is the error of an upload over the size limit.
func (g *Gateway) tooLarge() error {
	return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("a file may be at most %d bytes", g.limits.MaxUploadBytes))
}

func quotaExceeded(quota int64) error {
	return errorf(http.StatusRequestEntityTooLarge, CodeQuotaExceeded, fmt.Sprintf("this upload would take your files past your storage quota of %d bytes", quota))
}

func (g *Gateway) uploadAttachment(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	if g.blobs == nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "this server stores no attachments")
	}
	q := r.URL.Query()
	if len(q["name"]) > 1 {
		return domain.Errorf(domain.KindInvalid, "upload", "one name, please")
	}
	name := domain.SanitizeFileName(q.Get("name"))
	max := g.limits.MaxUploadBytes
	if r.ContentLength > max {
		return g.tooLarge()
	}
	quota := g.limits.UploadQuota
	limit, quotaBound := max, false
	if quota > 0 {
		used, err := g.cmds.Aggregates.UploadUsage(r.Context(), rc.UserID, rc.room)
		if err != nil {
			return err
		}
		if r.ContentLength >= 0 && used+r.ContentLength > quota {
			return quotaExceeded(quota)
		}
		if left := quota - used; left < limit {
			limit, quotaBound = left, true
		}
		if limit <= 0 {
			return quotaExceeded(quota)
		}
	}
	overLimit := func() error {
		if quotaBound {
			return quotaExceeded(quota)
		}
		return g.tooLarge()
	}
	// A large file takes longer than a request's read timeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.limits.UploadTimeout))
	body := bufio.NewReaderSize(r.Body, 4096)
	head, err := body.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return domain.Errorf(domain.KindInvalid, "upload", "cannot read the upload")
	}
	ct := sniff(head)
	att := domain.Attachment{ID: uuid.NewString(), Name: name, ContentType: ct}
	var thumb string
	if imaging.IsImage(ct) {
		data, err := io.ReadAll(io.LimitReader(body, limit+1))
		if err != nil {
			return domain.Errorf(domain.KindInvalid, "upload", "cannot read the upload")
		}
		if int64(len(data)) > limit {
			return overLimit()
		}
		img, err := imaging.Process(data, ct, imaging.Limits{})
		if err != nil {
			return domain.Errorf(domain.KindInvalid, "upload", "%v", err)
		}
		if img.Thumbnail != nil {
			ti, err := g.blobs.Put(r.Context(), bytes.NewReader(img.Thumbnail), 0)
			if err != nil {
				return fmt.Errorf("store thumbnail: %w", err)
			}
			thumb = ti.Digest
		}
		info, err := g.blobs.Put(r.Context(), bytes.NewReader(img.Data), 0)
		if err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
		att.Size, att.Digest, att.Width, att.Height = info.Size, info.Digest, img.Width, img.Height
	} else {
		info, err := g.blobs.Put(r.Context(), body, limit)
		if errors.Is(err, blobstore.ErrTooLarge) {
			return overLimit()
		}
		if err != nil {
			if r.Context().Err() != nil {
				return domain.Errorf(domain.KindInvalid, "upload", "the upload was interrupted")
			}
			return fmt.Errorf("store upload: %w", err)
		}
		att.Size, att.Digest = info.Size, info.Digest
	}
	// Stored blobs that end up unrecorded (a refusal below, a crash) are
	// nobody's: the collector removes them after the grace period.
	res, err := g.cmds.RecordUpload.Handle(r.Context(), commands.RecordUpload{User: rc.UserID, Room: rc.room, Attachment: att, Thumbnail: thumb, Quota: quota})
	if errors.Is(err, domain.ErrQuotaExceeded) {
		return quotaExceeded(quota)
	}
	if err != nil {
		return err
	}
	if err := g.waitFor(r.Context(), res); err != nil {
		return err
	}
	return respond(w, http.StatusCreated, map[string]attachmentJSON{"attachment": toAttachmentJSON(att)})
}

// sniff returns the content type of a file from its first bytes, without
// parameters except a text's charset.
func sniff(head []byte) string {
	return http.DetectContentType(head)
}

// attachmentFor returns the attachment id if the caller may fetch it:
// the uploader before it is posted, then the members of its room, until
// its message is deleted or an edit takes it off. Anyone else, and
// everyone after that, gets not found.
func (g *Gateway) attachmentFor(r *http.Request, s *session, id string) (attachment domain.Attachment, thumb string, err error) {
	notFound := domain.Errorf(domain.KindNotFound, "", "no such attachment")
	if _, perr := uuid.Parse(id); perr != nil {
		return attachment, "", notFound
	}
	info, err := g.read.Attachment(r.Context(), id)
	if stale := domain.KindOf(err) == domain.KindNotFound || err == nil && info.Seq == 0 && info.Uploader != s.UserID; stale {
		// The caller may have seen the message that holds it (or their
		// own upload's answer) before the read models did: look again
		// once they have everything stored now. Only refusals wait.
		head, herr := g.store.Head(r.Context())
		if herr == nil {
			herr = g.waitFor(r.Context(), commands.Result{Position: head})
		}
		if herr != nil {
			return attachment, "", herr
		}
		info, err = g.read.Attachment(r.Context(), id)
	}
	if err != nil {
		return attachment, "", err
	}
	if !info.Released.IsZero() {
		return attachment, "", notFound
	}
	if info.Seq == 0 {
		if info.Uploader != s.UserID {
			return attachment, "", notFound
		}
		return info.Attachment, info.Thumbnail, nil
	}
	ok, _, err := g.cmds.Aggregates.IsMember(r.Context(), info.Room, s.UserID)
	if err != nil {
		return attachment, "", err
	}
	if !ok {
		return attachment, "", notFound
	}
	return info.Attachment, info.Thumbnail, nil
}

func (g *Gateway) getAttachment(w http.ResponseWriter, r *http.Request, s *session) error {
	a, _, err := g.attachmentFor(r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	disposition := "attachment"
	if imaging.IsImage(a.ContentType) {
		disposition = "inline"
	}
	return g.serveBlob(w, r, a.Digest, a.ContentType, disposition, a.Name)
}

func (g *Gateway) getThumbnail(w http.ResponseWriter, r *http.Request, s *session) error {
	a, thumb, err := g.attachmentFor(r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !imaging.IsImage(a.ContentType) {
		return domain.Errorf(domain.KindNotFound, "", "this attachment has no thumbnail")
	}
	if thumb == "" {
		// An image only its header decodes of (an animated WebP): itself.
		return g.serveBlob(w, r, a.Digest, a.ContentType, "inline", a.Name)
	}
	return g.serveBlob(w, r, thumb, "", "inline", "thumbnail")
}

// serveBlob serves a blob with Range and conditional requests (ETag: its
// digest), as type ct (sniffed from the blob if ""), never sniffed by the
// browser, sandboxed, and named name in Content-Disposition.
func (g *Gateway) serveBlob(w http.ResponseWriter, r *http.Request, digest, ct, disposition, name string) error {
	if g.blobs == nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "this server stores no attachments")
	}
	b, err := g.blobs.Open(r.Context(), digest)
	if errors.Is(err, blobstore.ErrNotFound) || errors.Is(err, blobstore.ErrBadDigest) {
		return domain.Errorf(domain.KindNotFound, "", "no such attachment")
	}
	if err != nil {
		return err
	}
	defer b.Close()
	if ct == "" {
		head := make([]byte, 512)
		n, _ := io.ReadFull(b, head)
		ct = sniff(head[:n])
		if _, err := b.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", contentDisposition(disposition, name))
	h.Set("Content-Security-Policy", blobCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("ETag", strconv.Quote(digest))
	http.ServeContent(w, r, "", time.Time{}, b)
	return nil
}

// contentDisposition returns the header for a file name: an ASCII
// fallback and the RFC 5987 UTF-8 form.
func contentDisposition(disposition, name string) string {
	ascii := make([]byte, 0, len(name))
	for _, c := range []byte(name) {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%' {
			c = '_'
		}
		ascii = append(ascii, c)
	}
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, disposition, ascii, url.PathEscape(name))
}

// keepList returns the attachments an edit keeps: nil (all) if the field
// was absent or null, else the list, never nil.
func keepList(p *[]string) []string {
	if p == nil || *p == nil {
		return nil
	}
	return append([]string{}, (*p)...)
}

func derefIDs(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}
