//go:build !unix

package localmode

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
