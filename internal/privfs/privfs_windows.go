//go:build windows

package privfs

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows, mode bits say nothing about who may open a file, so "private" is checked on what
// does decide it:
//
//   - the path is not a reparse point (symlink, junction, mount point), which could lead anywhere;
//   - its owner is the current user's SID (a directory another user created first is refused);
//   - its access control list grants nothing to anyone but that user, SYSTEM, the Administrators
//     group and CREATOR OWNER: for a directory no access at all (inherit-only entries included,
//     as they become the access of the files created in it later), for a file no right to change
//     it. This is the list a directory under the user's profile (%LOCALAPPDATA%) inherits.
//     Deny entries only take rights away and are not needed; an entry of a kind this check does
//     not know is refused, as is a missing list (which grants everyone everything).
//
// Not checked: the integrity label, and what an administrator can do anyway (take ownership), as
// root can on Unix.

// fileWriteRights are the rights that let someone change a file or its protection.
const fileWriteRights = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.FILE_WRITE_EA |
	windows.FILE_WRITE_ATTRIBUTES | windows.DELETE | windows.WRITE_DAC | windows.WRITE_OWNER |
	windows.GENERIC_WRITE | windows.GENERIC_ALL

func checkPrivate(path string, fi fs.FileInfo, dir bool) error {
	attr, ok := fi.Sys().(*syscall.Win32FileAttributeData)
	if !ok {
		return fmt.Errorf("%s: cannot read its attributes: %w", path, ErrNotPrivate)
	}
	if attr.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return fmt.Errorf("%s is a reparse point (symlink or junction), which is not accepted: %w", path, ErrNotPrivate)
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s: read its security descriptor: %w", path, err)
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("who am I: %w", err)
	}
	user := tu.User.Sid
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("%s: read its owner: %w", path, err)
	}
	if !owner.Equals(user) {
		return fmt.Errorf("%s belongs to %s, not to you (%s); remove it or use your own directory: %w",
			path, sidName(owner), sidName(user), ErrNotPrivate)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return fmt.Errorf("%s has no access control list, so everyone may use it: %w", path, ErrNotPrivate)
	}
	trusted := []*windows.SID{user}
	for _, t := range []windows.WELL_KNOWN_SID_TYPE{windows.WinLocalSystemSid, windows.WinBuiltinAdministratorsSid, windows.WinCreatorOwnerSid} {
		sid, err := windows.CreateWellKnownSid(t)
		if err != nil {
			return fmt.Errorf("well-known SID %d: %w", t, err)
		}
		trusted = append(trusted, sid)
	}
	forbidden := windows.ACCESS_MASK(fileWriteRights)
	if dir {
		forbidden = ^windows.ACCESS_MASK(0)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("%s: read its access control list: %w", path, err)
		}
		switch ace.Header.AceType {
		case windows.ACCESS_DENIED_ACE_TYPE:
			continue
		case windows.ACCESS_ALLOWED_ACE_TYPE:
		default:
			return fmt.Errorf("%s has an access entry of type %d, which pivauth does not check: %w", path, ace.Header.AceType, ErrNotPrivate)
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if ace.Mask&forbidden == 0 || isOneOf(sid, trusted) {
			continue
		}
		return fmt.Errorf("%s is open to %s; run `icacls %s /inheritance:r /grant:r %%USERNAME%%:F` or use another directory: %w",
			path, sidName(sid), path, ErrNotPrivate)
	}
	return nil
}

func isOneOf(sid *windows.SID, set []*windows.SID) bool {
	for _, s := range set {
		if sid.Equals(s) {
			return true
		}
	}
	return false
}

// sidName names a SID as DOMAIN\account when it resolves, else as S-1-….
func sidName(sid *windows.SID) string {
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		if domain != "" {
			return domain + `\` + account
		}
		return account
	}
	return sid.String()
}

// checkNotWritable refuses a file or directory that belongs to someone else or grants a right to
// change it to anyone but the user, SYSTEM, Administrators and CREATOR OWNER: the file check of
// checkPrivate, applied to directories too: what others may read is not checked here.
func checkNotWritable(path string, fi fs.FileInfo) error {
	return checkPrivate(path, fi, false)
}

func lock(path string, exclusive, wait bool) (func(), error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	// FILE_FLAG_OPEN_REPARSE_POINT: a symlink planted at path is opened itself, not followed, and
	// then refused below (O_NOFOLLOW on Unix).
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_ALWAYS, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		_ = windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		_ = windows.CloseHandle(h)
		return nil, fmt.Errorf("lock %s: a reparse point (symlink or junction): %w", path, ErrNotPrivate)
	}
	var flags uint32
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	ol := new(windows.Overlapped)
	if err := windows.LockFileEx(h, flags, 0, 1, 0, ol); err != nil {
		_ = windows.CloseHandle(h)
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Closing the handle releases the lock too, but only "when the system gets to it": unlock first.
	return func() {
		_ = windows.UnlockFileEx(h, 0, 1, 0, ol)
		_ = windows.CloseHandle(h)
	}, nil
}
