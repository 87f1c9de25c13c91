package reply

import (
	"strings"
	"testing"
)

// BenchmarkStrip strips every input of the shared corpus once per iteration.
func BenchmarkStrip(b *testing.B) {
	cases, _, err := loadCorpus()
	if err != nil {
		b.Fatal(err)
	}
	size := int64(0)
	for _, c := range cases {
		size += int64(len(c.input))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cases {
			c.run()
		}
	}
}

// BenchmarkStripPlain strips the SMTP benchmark's 4 KB message (50 lines of plain prose, nothing
// to remove): the cost every new ticket pays on the intake's hot path.
//
//	go test ./mailin/reply -run '^$' -bench BenchmarkStripPlain -benchmem
func BenchmarkStripPlain(b *testing.B) {
	text := strings.Repeat("The printer on the second floor prints blank pages since this morning, again.\r\n", 50)
	o := &Options{Markers: []string{"## Reply above this line ##"}}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, removed := Strip(text, o); removed {
			b.Fatal("removed something")
		}
	}
}
