package main

import "fmt"

// count is n with the noun that fits it: "1 person", "2 people",
// "0 events". one and many are the singular and the plural.
func count[N ~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
