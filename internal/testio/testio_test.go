package testio

import (
	"strings"
	"sync"
	"testing"
)

// TestSyncBufferConcurrent writes from several goroutines while reading:
// an unguarded bytes.Buffer loses writes or panics here (and go test -race
// reports it), a SyncBuffer keeps every byte.
func TestSyncBufferConcurrent(t *testing.T) {
	const writers, writes = 8, 1000
	var s SyncBuffer
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range writes {
				if n, err := s.Write([]byte("x")); n != 1 || err != nil {
					t.Errorf("Write: %d, %v", n, err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			select {
			case <-stop:
				return
			default:
				if got := s.String(); strings.Trim(got, "x") != "" {
					t.Errorf("String while writing: %q", got)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-read
	if got := s.String(); got != strings.Repeat("x", writers*writes) {
		t.Errorf("after %d writes of one byte the buffer holds %d bytes", writers*writes, len(got))
	}
}
