package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Strip returns data, an image of type ct, without its metadata, and the
// EXIF orientation it had (0 if none). Nothing is decoded or re-encoded:
// the pixels are the uploader's, byte for byte.
//
//   - JPEG: APP1 (EXIF, XMP: camera, time, GPS location), APP2 other than
//     ICC_PROFILE, APP3..APP13, APP14 other than Adobe, APP15 and COM
//     segments are dropped; an EXIF orientation other than 1 is kept, in
//     a new APP1 that holds that one tag and nothing else.
//   - PNG: only the chunks that shape the pixels stay (IHDR, PLTE, IDAT,
//     IEND, tRNS, cHRM, gAMA, iCCP, sBIT, sRGB, bKGD, pHYs and APNG's
//     acTL, fcTL, fdAT); tEXt, zTXt, iTXt, eXIf, tIME and unknown chunks go.
//   - GIF: comment extensions and application extensions other than the
//     looping ones (NETSCAPE2.0, ANIMEXTS1.0) go: animations stay.
//   - WebP: EXIF and XMP chunks go, and VP8X's flags for them are cleared.
func Strip(data []byte, ct string) ([]byte, int, error) {
	switch ct {
	case "image/jpeg":
		return stripJPEG(data)
	case "image/png":
		out, err := stripPNG(data)
		return out, 0, err
	case "image/gif":
		out, err := stripGIF(data)
		return out, 0, err
	case "image/webp":
		out, err := stripWebP(data)
		return out, 0, err
	}
	return nil, 0, fmt.Errorf("strip: not an image type: %s", ct)
}

var errTruncated = errors.New("truncated image")

func stripJPEG(data []byte) ([]byte, int, error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, 0, errors.New("not a JPEG")
	}
	out := make([]byte, 0, len(data))
	out = append(out, 0xff, 0xd8)
	orientation := 0
	i := 2
	for {
		if i+4 > len(data) {
			return nil, 0, errTruncated
		}
		if data[i] != 0xff {
			return nil, 0, fmt.Errorf("JPEG: no marker at %d", i)
		}
		m := data[i+1]
		if m == 0xff { // fill byte
			i++
			continue
		}
		if m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7) {
			out = append(out, data[i:i+2]...)
			i += 2
			continue
		}
		if m == 0xd9 {
			return append(out, 0xff, 0xd9), orientation, nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil, 0, errTruncated
		}
		seg := data[i : i+2+n]
		body := seg[4:]
		if m == 0xda { // start of scan: the rest is entropy-coded data and later scans
			out = append(out, data[i:]...)
			if orientation > 1 {
				out = insertOrientation(out, orientation)
			}
			return out, orientation, nil
		}
		keep := true
		switch {
		case m == 0xe1:
			if bytes.HasPrefix(body, []byte("Exif\x00\x00")) && orientation == 0 {
				orientation = exifOrientation(body[6:])
			}
			keep = false
		case m == 0xe2:
			keep = bytes.HasPrefix(body, []byte("ICC_PROFILE\x00"))
		case m == 0xee:
			keep = bytes.HasPrefix(body, []byte("Adobe"))
		case m == 0xe0:
			keep = true // JFIF / JFXX: density, no personal data
		case m > 0xe0 && m <= 0xef, m == 0xfe:
			keep = false
		}
		if keep {
			out = append(out, seg...)
		}
		i += 2 + n
	}
}

// insertOrientation puts, right after SOI (and JFIF's APP0, if first),
// an APP1 EXIF segment whose one tag is the orientation o.
func insertOrientation(jpg []byte, o int) []byte {
	seg := []byte{0xff, 0xe1, 0, 0}
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, 'M', 'M', 0, 42, 0, 0, 0, 8) // big-endian TIFF, IFD0 at 8
	seg = append(seg, 0, 1)                        // one entry
	seg = append(seg, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0)
	seg = append(seg, 0, 0, 0, 0) // no next IFD
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	at := 2
	if len(jpg) > 6 && jpg[2] == 0xff && jpg[3] == 0xe0 {
		at = 4 + int(binary.BigEndian.Uint16(jpg[4:]))
	}
	out := make([]byte, 0, len(jpg)+len(seg))
	out = append(out, jpg[:at]...)
	out = append(out, seg...)
	return append(out, jpg[at:]...)
}

// exifOrientation returns the Orientation tag (0x0112) of IFD0 of a TIFF
// structure, 0 if absent or malformed.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for k := range n {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 {
			if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

var pngKept = map[string]bool{
	"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true, "tRNS": true, "cHRM": true, "gAMA": true, "iCCP": true,
	"sBIT": true, "sRGB": true, "bKGD": true, "pHYs": true, "acTL": true, "fcTL": true, "fdAT": true,
}

func stripPNG(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return nil, errors.New("not a PNG")
	}
	out := append(make([]byte, 0, len(data)), pngSignature...)
	for i := len(pngSignature); ; {
		if i+12 > len(data) {
			return nil, errTruncated
		}
		n := int(binary.BigEndian.Uint32(data[i:]))
		if n < 0 || n > len(data) || i+12+n > len(data) {
			return nil, errTruncated
		}
		typ := string(data[i+4 : i+8])
		if pngKept[typ] {
			out = append(out, data[i:i+12+n]...)
		}
		i += 12 + n
		if typ == "IEND" {
			return out, nil
		}
	}
}

func stripGIF(data []byte) ([]byte, error) {
	if len(data) < 13 || (string(data[:6]) != "GIF87a" && string(data[:6]) != "GIF89a") {
		return nil, errors.New("not a GIF")
	}
	i := 13
	if data[10]&0x80 != 0 {
		i += 3 << (int(data[10]&7) + 1)
	}
	if i > len(data) {
		return nil, errTruncated
	}
	out := append(make([]byte, 0, len(data)), data[:i]...)
	// subBlocks returns the end of the data sub-blocks starting at j.
	subBlocks := func(j int) (int, error) {
		for {
			if j >= len(data) {
				return 0, errTruncated
			}
			n := int(data[j])
			j++
			if n == 0 {
				return j, nil
			}
			j += n
		}
	}
	for {
		if i >= len(data) {
			return nil, errTruncated
		}
		switch data[i] {
		case 0x3b:
			return append(out, 0x3b), nil
		case 0x21:
			if i+2 > len(data) {
				return nil, errTruncated
			}
			label := data[i+1]
			end, err := subBlocks(i + 2)
			if err != nil {
				return nil, err
			}
			keep := true
			switch label {
			case 0xfe:
				keep = false
			case 0xff:
				app := data[i+2 : min(end, i+14)]
				keep = len(app) == 12 && app[0] == 11 && (string(app[1:12]) == "NETSCAPE2.0" || string(app[1:12]) == "ANIMEXTS1.0")
			}
			if keep {
				out = append(out, data[i:end]...)
			}
			i = end
		case 0x2c:
			j := i + 10
			if j > len(data) {
				return nil, errTruncated
			}
			if data[i+9]&0x80 != 0 {
				j += 3 << (int(data[i+9]&7) + 1)
			}
			j++ // LZW minimum code size
			end, err := subBlocks(j)
			if err != nil {
				return nil, err
			}
			out = append(out, data[i:end]...)
			i = end
		default:
			return nil, fmt.Errorf("GIF: unknown block 0x%02x", data[i])
		}
	}
}

func stripWebP(data []byte) ([]byte, error) {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil, errors.New("not a WebP")
	}
	size := int(binary.LittleEndian.Uint32(data[4:]))
	if size+8 < 12 || size+8 > len(data) {
		return nil, errTruncated
	}
	data = data[:size+8]
	out := append(make([]byte, 0, len(data)), data[:12]...)
	vp8x := -1
	for i := 12; i < len(data); {
		if i+8 > len(data) {
			return nil, errTruncated
		}
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		end := i + 8 + n + n&1
		if n < 0 || end > len(data) {
			if i+8+n == len(data) { // an unpadded last chunk
				end = len(data)
			} else {
				return nil, errTruncated
			}
		}
		switch string(data[i : i+4]) {
		case "EXIF", "XMP ":
		case "VP8X":
			vp8x = len(out)
			out = append(out, data[i:end]...)
		default:
			out = append(out, data[i:end]...)
		}
		i = end
	}
	if vp8x >= 0 && vp8x+8 < len(out) {
		out[vp8x+8] &^= 0x08 | 0x04 // EXIF and XMP flags
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}
