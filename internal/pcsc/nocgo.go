//go:build !cgo && !windows

package pcsc

import "time"

// Without cgo there is no PC/SC: EstablishContext fails, so no Context or
// Card ever exists and their methods are never reached; they exist so that
// the code over them compiles. The constants are distinct placeholders, not
// PC/SC's values, since no call here ever returns one.

// EstablishContext fails with ErrUnavailable.
func EstablishContext() (*Context, error) { return nil, ErrUnavailable }

// Context stands for scard.Context; none exists in this build.
type Context struct{}

// Release fails with ErrUnavailable.
func (*Context) Release() error { return ErrUnavailable }

// Cancel fails with ErrUnavailable.
func (*Context) Cancel() error { return ErrUnavailable }

// ListReaders fails with ErrUnavailable.
func (*Context) ListReaders() ([]string, error) { return nil, ErrUnavailable }

// GetStatusChange fails with ErrUnavailable.
func (*Context) GetStatusChange([]ReaderState, time.Duration) error { return ErrUnavailable }

// Connect fails with ErrUnavailable.
func (*Context) Connect(string, ShareMode, Protocol) (*Card, error) { return nil, ErrUnavailable }

// Card stands for scard.Card; none exists in this build.
type Card struct{}

// Status fails with ErrUnavailable.
func (*Card) Status() (*CardStatus, error) { return nil, ErrUnavailable }

// ActiveProtocol reports no protocol.
func (*Card) ActiveProtocol() Protocol { return 0 }

// Disconnect fails with ErrUnavailable.
func (*Card) Disconnect(Disposition) error { return ErrUnavailable }

// Reconnect fails with ErrUnavailable.
func (*Card) Reconnect(ShareMode, Protocol, Disposition) error { return ErrUnavailable }

// BeginTransaction fails with ErrUnavailable.
func (*Card) BeginTransaction() error { return ErrUnavailable }

// EndTransaction fails with ErrUnavailable.
func (*Card) EndTransaction(Disposition) error { return ErrUnavailable }

// Transmit fails with ErrUnavailable.
func (*Card) Transmit([]byte) ([]byte, error) { return nil, ErrUnavailable }

// CardStatus stands for scard.CardStatus, with the field pivauth reads.
type CardStatus struct{ Atr []byte }

// ReaderState stands for scard.ReaderState, with the fields pivauth uses.
type ReaderState struct {
	Reader                   string
	CurrentState, EventState StateFlag
}

type (
	// StateFlag stands for scard.StateFlag.
	StateFlag uint32
	// ShareMode stands for scard.ShareMode.
	ShareMode uint32
	// Protocol stands for scard.Protocol.
	Protocol uint32
	// Disposition stands for scard.Disposition.
	Disposition uint32
	// Error stands for scard.Error.
	Error uint32
)

// Error says that this placeholder is no PC/SC error.
func (e Error) Error() string { return "pcsc: placeholder error (PC/SC is unavailable without cgo)" }

// Placeholders for scard's connection parameters and reader states.
const (
	ShareShared ShareMode   = 1
	ProtocolAny Protocol    = 1
	ProtocolT1  Protocol    = 2
	LeaveCard   Disposition = 1
	ResetCard   Disposition = 2
)

// Placeholders for scard's reader state bits.
const (
	StateUnaware StateFlag = 0
	StateChanged StateFlag = 1 << iota
	StateUnknown
	StateUnavailable
	StatePresent
	StateMute
)

// Placeholders for scard's errors.
const (
	ErrCancelled Error = iota + 1
	ErrCommDataLost
	ErrCommError
	ErrInvalidHandle
	ErrNoReadersAvailable
	ErrNoService
	ErrNoSmartcard
	ErrNotTransacted
	ErrReaderUnavailable
	ErrRemovedCard
	ErrResetCard
	ErrSecurityViolation
	ErrServiceStopped
	ErrSharingViolation
	ErrTimeout
	ErrUnknownReader
	ErrUnpoweredCard
	ErrUnresponsiveCard
)
