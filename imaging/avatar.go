package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
)

// AvatarSize is the side of an avatar, in pixels.
const AvatarSize = 256

// Avatar makes a user's avatar from an uploaded image of sniffed type ct:
// checked against lim as Process checks (the header first), turned
// upright, the largest centred square cropped out and scaled to
// AvatarSize × AvatarSize (never up: a smaller square stays its size),
// encoded anew as JPEG, or PNG if it has transparency. Being a new image,
// it carries none of the upload's metadata; an animated image keeps its
// first frame.
func Avatar(data []byte, ct string, lim Limits) ([]byte, string, error) {
	lim = lim.withDefaults()
	cfg, err := decodeConfig(data, ct)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fmt.Errorf("%w: no pixels", ErrInvalid)
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return nil, "", fmt.Errorf("%w: %d×%d pixels is over the limit (%d pixels, %d a side)", ErrInvalid, cfg.Width, cfg.Height, lim.MaxPixels, lim.MaxSide)
	}
	clean, orientation, err := Strip(data, ct)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	img, err := decode(clean, ct)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	crop := image.Rect(0, 0, side, side).Add(image.Pt(b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2))
	size := min(side, AvatarSize)
	src := img
	sb := crop
	// Halve a large square cheaply first, as Thumbnail does.
	for sb.Dx() > 4*size {
		half := image.NewRGBA(image.Rect(0, 0, sb.Dx()/2, sb.Dy()/2))
		draw.ApproxBiLinear.Scale(half, half.Bounds(), src, sb, draw.Src, nil)
		src, sb = half, half.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, draw.Src, nil)
	out := orient(dst, orientation)
	var buf bytes.Buffer
	if !opaque(out) {
		if err := png.Encode(&buf, out); err != nil {
			return nil, "", fmt.Errorf("avatar: %w", err)
		}
		return buf.Bytes(), "image/png", nil
	}
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 88}); err != nil {
		return nil, "", fmt.Errorf("avatar: %w", err)
	}
	return buf.Bytes(), "image/jpeg", nil
}
