package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressInterval is how often a long admin command prints a progress
// line when its stderr is not a terminal.
const progressInterval = 2 * time.Second

// progress reports how far a long command is: a progress bar with
// events/s and ETA when w is a terminal, else a line every interval (and
// one at the end), so that logs of scripted runs show progress too.
type progress struct {
	w        io.Writer
	label    string
	bar      *progressbar.ProgressBar // nil if w is not a terminal
	interval time.Duration
	start    time.Time
	last     time.Time // when a line was last printed
	printed  int64     // done, as last printed
	done     int64
	total    int64
}

func newProgress(w io.Writer, label string, interval time.Duration) *progress {
	f, ok := w.(*os.File)
	return newProgressBar(w, label, interval, ok && term.IsTerminal(int(f.Fd())))
}

// newProgressBar is newProgress, with a bar if bar is set.
func newProgressBar(w io.Writer, label string, interval time.Duration, bar bool) *progress {
	p := &progress{w: w, label: label, interval: interval, start: time.Now()}
	p.last = p.start
	if bar {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// update records that done of (an estimated) total events are done.
func (p *progress) update(done, total int64) {
	total = max(total, done)
	p.done = done
	if p.bar != nil {
		if total != p.total {
			p.bar.ChangeMax64(total)
		}
		p.total = total
		p.bar.Set64(done)
		return
	}
	p.total = total
	if now := time.Now(); now.Sub(p.last) >= p.interval && done != p.printed {
		p.last, p.printed = now, done
		fmt.Fprintln(p.w, p.line(now))
	}
}

// set records progress without printing it, before finish.
func (p *progress) set(done, total int64) {
	p.done, p.total = done, max(total, done)
	if p.bar != nil {
		p.bar.ChangeMax64(p.total)
		p.bar.Set64(done)
	}
}

// line describes the progress at now.
func (p *progress) line(now time.Time) string {
	elapsed := now.Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Seconds()
	}
	s := fmt.Sprintf("%s: %d", p.label, p.done)
	if p.total > 0 {
		s += fmt.Sprintf("/%d events (%.1f%%)", p.total, 100*float64(p.done)/float64(p.total))
	} else {
		s += " events"
	}
	s += fmt.Sprintf(", %.0f events/s", rate)
	if rate > 0 && p.total > p.done {
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// note prints a message between progress reports.
func (p *progress) note(format string, args ...any) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// finish ends the report with a last line.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
	now := time.Now()
	fmt.Fprintf(p.w, "%s in %v\n", p.line(now), now.Sub(p.start).Round(time.Millisecond))
}
