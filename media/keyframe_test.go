package media_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/rtctest"
	"github.com/confabhq/confab/media"
)

// BenchmarkNewcomerKeyframe joins b.N newcomers, one after another, into
// a call of two publishers (audio and video each); every newcomer
// publishes too, and leaves once it is measured. It reports the
// percentiles, in ms, of
//   - in: the newcomer's subscribe connection connected → the first
//     keyframe of each publisher's video at the newcomer;
//   - out: the newcomer's publish connection connected → the first
//     keyframe of the newcomer's video at each publisher.
//
// The rtctest receivers never send a PLI of their own: every keyframe
// comes from a request of the SFU.
//
//	go test ./media -run '^$' -bench NewcomerKeyframe -benchtime 30x
func BenchmarkNewcomerKeyframe(b *testing.B) {
	s := newSFU(b, media.Config{})
	opts := rtctest.Options{Publish: []string{"audio", "video"}}
	alice := join(b, s, "r1", "alice", opts)
	bob := join(b, s, "r1", "bob", opts)
	waitFor(b, 20*time.Second, "alice and bob to receive each other", func() bool {
		return receivesAll(alice, bob) && receivesAll(bob, alice)
	}, describe(alice, bob))
	var in, out, connect []time.Duration
	for i := range b.N {
		name := fmt.Sprintf("new%d", i)
		joined := time.Now()
		n := join(b, s, "r1", name, opts)
		waitFor(b, 20*time.Second, name+" and the publishers to receive each other", func() bool {
			return receivesAll(n, alice, bob) && receivesAll(alice, n) && receivesAll(bob, n)
		}, describe(alice, bob, n))
		subUp := time.Unix(0, n.c.SubConnected.Load())
		pubUp := time.Unix(0, n.c.PubConnected.Load())
		connect = append(connect, subUp.Sub(joined))
		for _, pub := range []*peer{alice, bob} {
			in = append(in, firstKeyframe(n, pub.user).Sub(subUp))
			out = append(out, firstKeyframe(pub, name).Sub(pubUp))
		}
		n.p.Leave()
		n.close()
		waitFor(b, 20*time.Second, name+"'s tracks to leave the publishers' subscribe connections", func() bool {
			return sendingFrom(alice.c.Sub, name) == 0 && sendingFrom(bob.c.Sub, name) == 0
		}, describe(alice, bob))
	}
	report(b, "join→sub-connected", connect)
	report(b, "in", in)
	report(b, "out", out)
}

// BenchmarkScreenShareKeyframe starts and stops a screen share b.N times
// in a call of three (alice publishes audio and video, bob and carol
// audio), and reports the percentiles, in ms, of the share's start (the
// publish connection's renegotiation answered) → the first keyframe of
// the screen at bob and at carol: a track added to subscribers by a
// renegotiation of their connections.
//
//	go test ./media -run '^$' -bench ScreenShareKeyframe -benchtime 30x
func BenchmarkScreenShareKeyframe(b *testing.B) {
	s := newSFU(b, media.Config{})
	alice := join(b, s, "r1", "alice", rtctest.Options{Publish: []string{"audio", "video"}})
	bob := join(b, s, "r1", "bob", rtctest.Options{Publish: []string{"audio"}})
	carol := join(b, s, "r1", "carol", rtctest.Options{Publish: []string{"audio"}})
	all := describe(alice, bob, carol)
	waitFor(b, 20*time.Second, "bob and carol to receive alice", func() bool {
		return receivesAll(bob, alice) && receivesAll(carol, alice)
	}, all)
	screen := media.TrackID("alice", media.KindScreen)
	var lat []time.Duration
	for range b.N {
		started := time.Now()
		if err := alice.c.StartScreen(); err != nil {
			b.Fatal(err)
		}
		var got []time.Time
		waitFor(b, 20*time.Second, "bob and carol to get a keyframe of the screen", func() bool {
			got = got[:0]
			for _, sub := range []*peer{bob, carol} {
				st := sub.c.Track(screen)
				if st == nil {
					return false
				}
				k, ok := st.KeyframeSince(started)
				if !ok {
					return false
				}
				got = append(got, k)
			}
			return true
		}, all)
		for _, k := range got {
			lat = append(lat, k.Sub(started))
		}
		if err := alice.c.StopScreen(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 20*time.Second, "the screen to leave bob's and carol's subscribe connections", func() bool {
			gone := func(msid string) bool { return msid == "alice "+screen }
			return sending(bob.c.Sub, gone) == 0 && sending(carol.c.Sub, gone) == 0
		}, all)
	}
	report(b, "screen", lat)
}

// BenchmarkICERestartKeyframe restarts ICE on a subscriber's subscribe
// connection b.N times, in a call of two publishers (audio and video)
// and the subscriber, and reports the percentiles, in ms, of the restart
// → the next keyframe of each publisher's video at the subscriber. Those
// keyframes are asked for through the throttle (at most one request per
// source per KeyframeInterval): the tracks are not new.
//
//	go test ./media -run '^$' -bench ICERestartKeyframe -benchtime 20x
func BenchmarkICERestartKeyframe(b *testing.B) {
	s := newSFU(b, media.Config{})
	opts := rtctest.Options{Publish: []string{"audio", "video"}}
	alice := join(b, s, "r1", "alice", opts)
	bob := join(b, s, "r1", "bob", opts)
	carol := join(b, s, "r1", "carol", rtctest.Options{})
	all := describe(alice, bob, carol)
	waitFor(b, 20*time.Second, "carol to receive alice and bob", func() bool { return receivesAll(carol, alice, bob) }, all)
	var lat []time.Duration
	for range b.N {
		restarted := time.Now()
		if err := carol.p.RestartICE(); err != nil {
			b.Fatal(err)
		}
		var got []time.Time
		waitFor(b, 20*time.Second, "carol's next keyframes", func() bool {
			got = got[:0]
			for _, pub := range []*peer{alice, bob} {
				k, ok := carol.c.Track(media.TrackID(pub.user, media.KindVideo)).KeyframeSince(restarted)
				if !ok {
					return false
				}
				got = append(got, k)
			}
			return true
		}, all)
		for _, k := range got {
			lat = append(lat, k.Sub(restarted))
		}
	}
	report(b, "ice-restart", lat)
}

// firstKeyframe returns when pe's first keyframe of from's video came.
func firstKeyframe(pe *peer, from string) time.Time {
	return time.Unix(0, pe.c.Track(media.TrackID(from, media.KindVideo)).FirstKeyframe.Load())
}

// report logs and reports the p50, p99 and max of ds, in ms, as name-p50-ms etc.
func report(b *testing.B, name string, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p50, p99, worst := percentile(ds, 50), percentile(ds, 99), ds[len(ds)-1]
	b.ReportMetric(ms(p50), name+"-p50-ms")
	b.ReportMetric(ms(p99), name+"-p99-ms")
	b.ReportMetric(ms(worst), name+"-max-ms")
	b.Logf("%s: n=%d p50=%.1fms p99=%.1fms max=%.1fms", name, len(ds), ms(p50), ms(p99), ms(worst))
}

// percentile returns the nearest-rank p-th percentile of sorted ds.
func percentile(ds []time.Duration, p int) time.Duration {
	i := (p*len(ds)+99)/100 - 1
	return ds[max(i, 0)]
}
