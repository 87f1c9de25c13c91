package relay

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS: on Linux, the files a Maildir send writes are made durable together, with syncfs(2)
// on the file system that holds dir, rather than with an fsync each. Since Linux 5.8 syncfs
// reports the write errors of the file system (errseq); before, it could not, and a failed
// write would go unnoticed — those kernels are long out of support.
const syncFS = true

func syncFiles(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(f.Fd()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
