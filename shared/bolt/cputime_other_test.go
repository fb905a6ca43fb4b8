//go:build !unix

package bolt

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
