package reply

import "testing"

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
