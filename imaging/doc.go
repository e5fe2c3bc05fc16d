// Package imaging checks, cleans and thumbnails uploaded images (JPEG,
// PNG, GIF, WebP) with the standard library and golang.org/x/image: no
// cgo, no external tools.
//
// Process reads the image's header first (image.DecodeConfig) and refuses
// one over the pixel limits before decoding a pixel, so a decompression
// bomb (a few KB that declare 100k × 100k pixels) costs nothing. The
// stored image is the upload with its metadata cut out losslessly (Strip:
// EXIF with its GPS location, XMP, comments, text chunks) rather than a
// re-encoding: no generation loss, animated GIFs stay animated, and a
// JPEG's orientation survives in a one-tag EXIF segment. The thumbnail is
// a new image (JPEG, PNG when there is transparency), scaled with
// x/image/draw, upright.
//
// Stateless: no goroutines, no locks.
package imaging
