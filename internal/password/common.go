package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
)

// commonFile is the 10,000 most common passwords of 8 characters or more,
// one a line, most common first: the first such entries of
// data/passwords.txt in github.com/trustelem/zxcvbn v1.0.1 (MIT licence,
// Copyright (c) 2018 Vincent Vanackere and Trustelem), which is zxcvbn's
// frequency list from Xato's corpus of leaked passwords. Made with
//
//	awk '{print $1}' data/passwords.txt | awk 'length($0)>=8' | head -10000 | gzip -9 -n
//
//go:embed common.txt.gz
var commonFile []byte

// common is the set of the list's passwords, read at first use.
var common = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonFile))
	if err != nil {
		panic("password: embedded common list: " + err.Error())
	}
	set := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			set[w] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded common list: " + err.Error())
	}
	return set
})

// IsCommon reports whether password is one of the 10,000 most common
// passwords of 8 characters or more, whatever its letters' case.
func IsCommon(password string) bool {
	_, ok := common()[strings.ToLower(password)]
	return ok
}

// CommonCount returns how many passwords the common list holds.
func CommonCount() int { return len(common()) }
