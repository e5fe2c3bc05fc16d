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

// barThrottle is how often the bar redraws at most.
var barThrottle = 100 * time.Millisecond

// rateAfter is how long progress runs before it shows a rate: over the
// first moments a rate says little (and the bar's own read "0 events/hr").
const rateAfter = 500 * time.Millisecond

// progress reports how far a long command is: a progress bar with
// events/s and ETA when w is a terminal ("—" until a rate is known), else a line every interval (and
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
			// The bar's own rate and ETA are left out: on the first frames
			// they read "0 events/hr" and "0s". barText shows ours.
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionThrottle(barThrottle),
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
		changed := total != p.total
		p.total = total
		p.bar.Describe(p.barText(time.Now()))
		if changed {
			p.bar.ChangeMax64(total)
		}
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

// rate is the events per second so far, and whether it is known yet.
func (p *progress) rate(now time.Time) (float64, bool) {
	elapsed := now.Sub(p.start)
	if elapsed < rateAfter || p.done == 0 {
		return 0, false
	}
	return float64(p.done) / elapsed.Seconds(), true
}

// eta is the time left at rate, or "" if it is not known.
func (p *progress) eta(rate float64) string {
	if rate <= 0 || p.total <= p.done {
		return ""
	}
	return time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
}

// barText is the bar's description: the label, events/s and ETA, with
// "—" for a rate not known yet.
func (p *progress) barText(now time.Time) string {
	rate, ok := p.rate(now)
	if !ok {
		return p.label + " · — events/s"
	}
	s := fmt.Sprintf("%s · %.0f events/s", p.label, rate)
	if eta := p.eta(rate); eta != "" {
		s += " · ETA " + eta
	}
	return s
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
	if eta := p.eta(rate); eta != "" {
		s += ", ETA " + eta
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
