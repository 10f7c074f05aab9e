package pinbuf

import (
	"bytes"
	"errors"
	"testing"
)

func TestNewCopiesAndWipesInput(t *testing.T) {
	in := []byte("123456")
	b, err := New(in)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.Equal(in, make([]byte, 6)) {
		t.Errorf("input not wiped: %q", in)
	}
	if b.Len() != 6 {
		t.Errorf("Len = %d, want 6", b.Len())
	}
	var got []byte
	if err := b.Use(func(s []byte) error { got = append(got, s...); return nil }); err != nil {
		t.Fatal(err)
	}
	if string(got) != "123456" {
		t.Errorf("secret = %q", got)
	}
}

func TestUseCannotGrowIntoSpareMemory(t *testing.T) {
	b, err := New([]byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = b.Use(func(s []byte) error {
		if cap(s) != 4 {
			t.Errorf("cap = %d, want 4 (append must not write into the page)", cap(s))
		}
		return nil
	})
}

func TestCloseIsFinal(t *testing.T) {
	b, err := New([]byte("87654321"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Use(func([]byte) error { t.Error("fn called after Close"); return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Use after Close = %v, want ErrClosed", err)
	}
	if b.Len() != 0 || b.Locked() {
		t.Errorf("after Close: Len %d Locked %v", b.Len(), b.Locked())
	}
}

func TestTooLong(t *testing.T) {
	in := bytes.Repeat([]byte{'1'}, MaxLen+1)
	if _, err := New(in); err == nil {
		t.Fatal("New accepted an over-long secret")
	}
	if !bytes.Equal(in, make([]byte, MaxLen+1)) {
		t.Error("rejected input not wiped")
	}
}

func TestWipe(t *testing.T) {
	p := []byte{1, 2, 3}
	Wipe(p)
	if !bytes.Equal(p, []byte{0, 0, 0}) {
		t.Errorf("Wipe left %v", p)
	}
}
