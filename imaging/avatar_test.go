package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

func TestAvatarSquareCropped(t *testing.T) {
	// 900×300: a red square in the middle, blue on both sides.
	img := image.NewNRGBA(image.Rect(0, 0, 900, 300))
	for y := range 300 {
		for x := range 900 {
			c := color.NRGBA{B: 255, A: 255}
			if x >= 300 && x < 600 {
				c = color.NRGBA{R: 255, A: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	data, ct, err := Avatar(withEXIF(encodeJPEG(t, img), 1), "image/jpeg", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ct != "image/jpeg" {
		t.Fatalf("type %s", ct)
	}
	if bytes.Contains(data, []byte(gpsMarker)) {
		t.Fatal("the avatar kept the upload's EXIF")
	}
	out, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := out.Bounds(); b.Dx() != AvatarSize || b.Dy() != AvatarSize {
		t.Fatalf("avatar is %v, want %d×%d", b, AvatarSize, AvatarSize)
	}
	for _, p := range []image.Point{{5, 5}, {250, 250}, {128, 128}} {
		r, _, b, _ := out.At(p.X, p.Y).RGBA()
		if r < 0xc000 || b > 0x4000 {
			t.Errorf("pixel %v is not the red middle: r %x b %x", p, r, b)
		}
	}
}

func TestAvatarSmallTransparent(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 64))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	data, ct, err := Avatar(buf.Bytes(), "image/png", Limits{})
	if err != nil || ct != "image/png" {
		t.Fatalf("%s, %v", ct, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != 40 || cfg.Height != 40 {
		t.Fatalf("small avatar: %+v, %v; want 40×40, never scaled up", cfg, err)
	}
}

func TestAvatarRefused(t *testing.T) {
	bomb := pngChunk("IHDR", []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 6, 0, 0, 0})
	for name, c := range map[string]struct {
		data []byte
		ct   string
	}{
		"garbage":  {[]byte("<html><script>alert(1)</script>"), "image/png"},
		"bomb":     {append([]byte("\x89PNG\r\n\x1a\n"), bomb...), "image/png"},
		"not seen": {[]byte(strings.Repeat("x", 100)), "text/plain"},
	} {
		if _, _, err := Avatar(c.data, c.ct, Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
