package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Limits bound the images Process accepts.
type Limits struct {
	// MaxPixels is the most pixels (width × height, as the header says)
	// an image may have: a decompression bomb declares huge dimensions in
	// a few bytes. Default DefaultMaxPixels.
	MaxPixels int64
	// MaxSide is the longest side, in pixels. Default DefaultMaxSide.
	MaxSide int
}

// Defaults of Limits.
const (
	DefaultMaxPixels = 50_000_000 // a 50 MP photo
	DefaultMaxSide   = 20_000
	// ThumbnailSize is the box a thumbnail fits in, aspect kept.
	ThumbnailSize = 400
)

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = DefaultMaxSide
	}
	return l
}

// ErrInvalid is the cause of every refusal: an image that does not
// decode, or is over the limits.
var ErrInvalid = errors.New("invalid image")

// Result is a processed image.
type Result struct {
	// Data is the image to store and serve: the upload with its metadata
	// taken out, losslessly (see Strip).
	Data        []byte
	ContentType string
	// Width and Height are as displayed (after the EXIF orientation).
	Width, Height int
	// Thumbnail is a JPEG (PNG if the image has transparency) that fits
	// in ThumbnailSize × ThumbnailSize; nil if the image decodes only
	// as far as its header (an animated WebP).
	Thumbnail     []byte
	ThumbnailType string
}

// IsImage reports whether Process handles content type ct (as sniffed).
func IsImage(ct string) bool {
	switch ct {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return true
	}
	return false
}

// Process checks the image data of sniffed type ct against lim (from the
// header, before decoding any pixel), strips its metadata and makes its
// thumbnail.
func Process(data []byte, ct string, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	cfg, err := decodeConfig(data, ct)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Result{}, fmt.Errorf("%w: no pixels", ErrInvalid)
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return Result{}, fmt.Errorf("%w: %d×%d pixels is over the limit (%d pixels, %d a side)", ErrInvalid, cfg.Width, cfg.Height, lim.MaxPixels, lim.MaxSide)
	}
	clean, orientation, err := Strip(data, ct)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c2, err := decodeConfig(clean, ct); err != nil || c2.Width != cfg.Width || c2.Height != cfg.Height {
		return Result{}, fmt.Errorf("%w: does not decode once its metadata is stripped", ErrInvalid)
	}
	res := Result{Data: clean, ContentType: ct, Width: cfg.Width, Height: cfg.Height}
	if orientation >= 5 {
		res.Width, res.Height = cfg.Height, cfg.Width
	}
	img, err := decode(clean, ct)
	if err != nil {
		if ct == "image/webp" {
			return res, nil // animated or extended WebP: x/image/webp reads only its header
		}
		return Result{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	res.Thumbnail, res.ThumbnailType, err = Thumbnail(img, orientation)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func decodeConfig(data []byte, ct string) (image.Config, error) {
	r := bytes.NewReader(data)
	switch ct {
	case "image/jpeg":
		return jpeg.DecodeConfig(r)
	case "image/png":
		return png.DecodeConfig(r)
	case "image/gif":
		return gif.DecodeConfig(r)
	case "image/webp":
		return webp.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("not an image type: %s", ct)
}

// decode decodes the image (a GIF's first frame).
func decode(data []byte, ct string) (image.Image, error) {
	r := bytes.NewReader(data)
	switch ct {
	case "image/jpeg":
		return jpeg.Decode(r)
	case "image/png":
		return png.Decode(r)
	case "image/gif":
		return gif.Decode(r)
	case "image/webp":
		return webp.Decode(r)
	}
	return nil, fmt.Errorf("not an image type: %s", ct)
}

// Thumbnail scales img down to fit in ThumbnailSize × ThumbnailSize
// (never up), turned upright by the EXIF orientation (1-8; 0 is 1), and
// encodes it: JPEG, or PNG if it has transparency.
func Thumbnail(img image.Image, orientation int) ([]byte, string, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	tw, th := w, h
	if w > ThumbnailSize || h > ThumbnailSize {
		if w >= h {
			tw, th = ThumbnailSize, max(1, h*ThumbnailSize/w)
		} else {
			tw, th = max(1, w*ThumbnailSize/h), ThumbnailSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	// A large source is first halved cheaply, then filtered properly:
	// CatmullRom over 12 MP costs seconds; this costs little more than
	// the decode.
	src := img
	for src.Bounds().Dx() > 4*tw && src.Bounds().Dy() > 4*th {
		sb := src.Bounds()
		half := image.NewRGBA(image.Rect(0, 0, sb.Dx()/2, sb.Dy()/2))
		draw.ApproxBiLinear.Scale(half, half.Bounds(), src, sb, draw.Src, nil)
		src = half
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	out := orient(dst, orientation)
	var buf bytes.Buffer
	if !opaque(out) {
		if err := png.Encode(&buf, out); err != nil {
			return nil, "", fmt.Errorf("thumbnail: %w", err)
		}
		return buf.Bytes(), "image/png", nil
	}
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85}); err != nil {
		return nil, "", fmt.Errorf("thumbnail: %w", err)
	}
	return buf.Bytes(), "image/jpeg", nil
}

func opaque(img *image.RGBA) bool {
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 0xff {
			return false
		}
	}
	return true
}

// orient returns img turned as EXIF orientation o says the stored pixels
// are to be shown.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			}
			out.SetRGBA(dx, dy, img.RGBAAt(x, y))
		}
	}
	return out
}
