// Package file is the embedded blob store: each blob a file named by its
// digest under a directory (by default <data>/blobs). A Put streams to a
// temporary file in the same file system, fsyncs it, renames it into
// place and fsyncs the directory, so a blob is whole or absent after a
// crash; leftovers of interrupted Puts are removed by Open. No goroutines,
// no locks: the file system serializes renames.
package file
