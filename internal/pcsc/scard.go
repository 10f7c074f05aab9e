//go:build cgo || windows

package pcsc

import "github.com/ebfe/scard"

// The scard names pivauth uses. Aliases keep scard's types, so its errors
// match these constants with errors.Is and no conversion is needed.
type (
	// Context is a PC/SC resource manager context (scard.Context).
	Context = scard.Context
	// Card is a connection to a card (scard.Card).
	Card = scard.Card
	// CardStatus is what Card.Status reports (scard.CardStatus).
	CardStatus = scard.CardStatus
	// ReaderState is one reader's entry for Context.GetStatusChange (scard.ReaderState).
	ReaderState = scard.ReaderState
	// StateFlag is a reader state bit set (scard.StateFlag).
	StateFlag = scard.StateFlag
	// ShareMode is how a connection shares the card (scard.ShareMode).
	ShareMode = scard.ShareMode
	// Protocol is a card transmission protocol (scard.Protocol).
	Protocol = scard.Protocol
	// Disposition says what becomes of the card when a connection or transaction ends (scard.Disposition).
	Disposition = scard.Disposition
	// Error is a PC/SC return code (scard.Error).
	Error = scard.Error
)

// EstablishContext opens a context with the PC/SC service (SCardEstablishContext).
func EstablishContext() (*Context, error) { return scard.EstablishContext() }

// Connection parameters and reader states, as scard defines them.
const (
	ShareShared = scard.ShareShared
	ProtocolAny = scard.ProtocolAny
	ProtocolT1  = scard.ProtocolT1
	LeaveCard   = scard.LeaveCard
	ResetCard   = scard.ResetCard

	StateUnaware     = scard.StateUnaware
	StateChanged     = scard.StateChanged
	StateUnknown     = scard.StateUnknown
	StateUnavailable = scard.StateUnavailable
	StatePresent     = scard.StatePresent
	StateMute        = scard.StateMute
)

// PC/SC errors, as scard defines them.
const (
	ErrCancelled          = scard.ErrCancelled
	ErrCommDataLost       = scard.ErrCommDataLost
	ErrCommError          = scard.ErrCommError
	ErrInvalidHandle      = scard.ErrInvalidHandle
	ErrNoReadersAvailable = scard.ErrNoReadersAvailable
	ErrNoService          = scard.ErrNoService
	ErrNoSmartcard        = scard.ErrNoSmartcard
	ErrNotTransacted      = scard.ErrNotTransacted
	ErrReaderUnavailable  = scard.ErrReaderUnavailable
	ErrRemovedCard        = scard.ErrRemovedCard
	ErrResetCard          = scard.ErrResetCard
	ErrSecurityViolation  = scard.ErrSecurityViolation
	ErrServiceStopped     = scard.ErrServiceStopped
	ErrSharingViolation   = scard.ErrSharingViolation
	ErrTimeout            = scard.ErrTimeout
	ErrUnknownReader      = scard.ErrUnknownReader
	ErrUnpoweredCard      = scard.ErrUnpoweredCard
	ErrUnresponsiveCard   = scard.ErrUnresponsiveCard
)
