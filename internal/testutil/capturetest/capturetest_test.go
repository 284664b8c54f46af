package capturetest

import (
	"context"
	"errors"
	"testing"
)

func TestStopCancelsAndReturnsResult(t *testing.T) {
	errStopped := errors.New("stopped")
	c := Start(t, func(ctx context.Context, ready func()) (int, error) {
		ready()
		ready() // a second call is ignored
		<-ctx.Done()
		return 42, errStopped
	})
	select {
	case <-c.Done():
		t.Fatal("the capture ended before Stop")
	default:
	}
	n, err := c.Stop()
	if n != 42 || !errors.Is(err, errStopped) {
		t.Errorf("Stop = %d, %v; want 42, %v", n, err, errStopped)
	}
}

func TestDoneWhenItStopsByItself(t *testing.T) {
	c := Start(t, func(ctx context.Context, ready func()) (string, error) {
		ready()
		return "counted", nil
	})
	<-c.Done()
	if s, err := c.Result(); s != "counted" || err != nil {
		t.Errorf("Result = %q, %v", s, err)
	}
}
