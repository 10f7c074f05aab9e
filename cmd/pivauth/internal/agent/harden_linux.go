package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// HardenProcess keeps the agent's memory, which holds PINs and tokens, from other processes: no
// core dump is written (RLIMIT_CORE 0) and the process is not dumpable (PR_SET_DUMPABLE 0), which
// also makes /proc/PID root's, so the user's other processes can neither ptrace it nor read its
// memory, environment or file descriptors there. Root still can. Clear PIVAUTH_PIN from the
// initial environment (signer.UnsetEnv) first: it writes through /proc/self/mem.
func HardenProcess() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("agent: setting the core size limit to 0: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("agent: PR_SET_DUMPABLE 0: %w", err)
	}
	return nil
}
