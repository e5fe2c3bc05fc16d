package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func testImage(w, h int, alpha uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 128, alpha})
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gpsMarker stands for the location an EXIF segment carries.
const gpsMarker = "GPSLatitude=48.8584N"

// withEXIF inserts after SOI an APP1 EXIF segment with orientation o and
// the GPS marker (in an ASCII value the IFD points past).
func withEXIF(jpg []byte, o int) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
	tiff = append(tiff, gpsMarker...)
	seg := append([]byte{0xff, 0xe1, 0, 0}, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	com := append([]byte{0xff, 0xfe, 0, byte(2 + len("secret comment"))}, "secret comment"...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, com...)
	return append(out, jpg[2:]...)
}

func TestJPEGMetadataStripped(t *testing.T) {
	src := withEXIF(encodeJPEG(t, testImage(60, 40, 255)), 6)
	res, err := Process(src, "image/jpeg", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(res.Data, []byte(gpsMarker)) || bytes.Contains(res.Data, []byte("secret comment")) {
		t.Fatal("metadata survived")
	}
	if o := exifOrientationOf(res.Data); o != 6 {
		t.Fatalf("orientation %d kept, want 6", o)
	}
	if res.Width != 40 || res.Height != 60 {
		t.Fatalf("displayed size %d×%d, want 40×60 (rotated)", res.Width, res.Height)
	}
	th, _, err := image.Decode(bytes.NewReader(res.Thumbnail))
	if err != nil || th.Bounds().Dx() != 40 || th.Bounds().Dy() != 60 || res.ThumbnailType != "image/jpeg" {
		t.Fatalf("thumbnail %v %v %s", th.Bounds(), err, res.ThumbnailType)
	}
	// The pixels are untouched: the scan data is the same bytes.
	if !bytes.HasSuffix(res.Data, src[bytes.Index(src, []byte{0xff, 0xda}):]) {
		t.Fatal("scan data changed")
	}
}

func exifOrientationOf(jpg []byte) int {
	i := bytes.Index(jpg, []byte("Exif\x00\x00"))
	if i < 0 {
		return 0
	}
	return exifOrientation(jpg[i+6:])
}

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

func TestPNGTextAndEXIFChunksStripped(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(500, 250, 100)); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	// After IHDR (8 + 25 bytes): a tEXt and an eXIf chunk.
	src := append([]byte{}, p[:33]...)
	src = append(src, pngChunk("tEXt", []byte("Location\x00"+gpsMarker))...)
	src = append(src, pngChunk("eXIf", []byte("MM\x00*"+gpsMarker))...)
	src = append(src, p[33:]...)
	res, err := Process(src, "image/png", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(res.Data, []byte(gpsMarker)) {
		t.Fatal("metadata survived")
	}
	if res.ThumbnailType != "image/png" {
		t.Fatalf("thumbnail of a transparent image is %s", res.ThumbnailType)
	}
	th, err := png.Decode(bytes.NewReader(res.Thumbnail))
	if err != nil || th.Bounds().Dx() != 400 || th.Bounds().Dy() != 200 {
		t.Fatalf("thumbnail %v %v", th.Bounds(), err)
	}
}

func TestAnimatedGIFKept(t *testing.T) {
	pal := color.Palette{color.Black, color.White}
	anim := &gif.GIF{LoopCount: 0}
	for i := range 3 {
		f := image.NewPaletted(image.Rect(0, 0, 10, 10), pal)
		f.SetColorIndex(i, i, 1)
		anim.Image, anim.Delay = append(anim.Image, f), append(anim.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	src := b.Bytes()
	// A comment extension after the header and palette.
	at := 13
	if src[10]&0x80 != 0 {
		at += 3 << (int(src[10]&7) + 1)
	}
	withComment := append(append(append([]byte{}, src[:at]...), 0x21, 0xfe, byte(len(gpsMarker))), gpsMarker...)
	withComment = append(append(withComment, 0), src[at:]...)
	res, err := Process(withComment, "image/gif", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(res.Data, []byte(gpsMarker)) {
		t.Fatal("comment survived")
	}
	g, err := gif.DecodeAll(bytes.NewReader(res.Data))
	if err != nil || len(g.Image) != 3 {
		t.Fatalf("animation lost: %v frames, %v", len(g.Image), err)
	}
}

// TestDecompressionBomb: a PNG that declares 100k × 100k pixels in a few
// bytes is refused from its header.
func TestDecompressionBomb(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(1, 1, 255)); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	binary.BigEndian.PutUint32(p[16:], 100000)
	binary.BigEndian.PutUint32(p[20:], 100000)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	if _, err := Process(p, "image/png", Limits{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bomb: %v, want ErrInvalid", err)
	}
	if _, err := Process(encodeJPEG(t, testImage(100, 100, 255)), "image/jpeg", Limits{MaxPixels: 9999}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over MaxPixels: %v", err)
	}
}

func TestGarbageRefused(t *testing.T) {
	for _, ct := range []string{"image/jpeg", "image/png", "image/gif", "image/webp"} {
		for _, data := range [][]byte{nil, []byte("hello"), {0xff, 0xd8, 0xff}, []byte("RIFF\x04\x00\x00\x00WEBP")} {
			if _, err := Process(data, ct, Limits{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s %q: %v", ct, data, err)
			}
		}
	}
}

func FuzzStrip(f *testing.F) {
	f.Add(withEXIF(encodeJPEG(f, testImage(8, 8, 255)), 3), "image/jpeg")
	f.Fuzz(func(t *testing.T, data []byte, ct string) {
		Process(data, ct, Limits{MaxPixels: 1 << 16})
	})
}

func BenchmarkThumbnail12MP(b *testing.B) {
	src := encodeJPEG(b, testImage(4000, 3000, 255))
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Process(src, "image/jpeg", Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
