package credential

import (
	"errors"
	"runtime"
	"time"
)

// ErrBusy is returned by a Bounded hasher when no hashing slot freed up within its queue
// timeout. It is the caller's cue to answer "try again shortly" (429), never to queue more.
var ErrBusy = errors.New("credential: too many password hashings in progress")

// Bounded returns a Hasher that runs at most max of h's Hash and Verify calls at once. A call
// waits at most wait for its turn, then returns ErrBusy without hashing. max <= 0 means
// runtime.NumCPU(); wait <= 0 means no waiting at all.
//
// Each argon2id call holds its whole memory parameter (19 MiB by default) while it runs, so the
// bound is what keeps a burst of logins from exhausting memory: what waits is a goroutine, not a
// hash.
func Bounded(h Hasher, max int, wait time.Duration) Hasher {
	if max <= 0 {
		max = runtime.NumCPU()
	}
	return &bounded{h: h, slots: make(chan struct{}, max), wait: wait, after: time.After}
}

type bounded struct {
	h     Hasher
	slots chan struct{}
	wait  time.Duration
	// after is time.After; tests replace it to decide when the wait ends.
	after func(time.Duration) <-chan time.Time
}

func (b *bounded) acquire() error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	if b.wait <= 0 {
		return ErrBusy
	}
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-b.after(b.wait):
		return ErrBusy
	}
}

func (b *bounded) release() { <-b.slots }

func (b *bounded) Hash(password string) (string, error) {
	if err := b.acquire(); err != nil {
		return "", err
	}
	defer b.release()
	return b.h.Hash(password)
}

func (b *bounded) Verify(password, encoded string) (bool, error) {
	if err := b.acquire(); err != nil {
		return false, err
	}
	defer b.release()
	return b.h.Verify(password, encoded)
}
