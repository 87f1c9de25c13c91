package mailin

import "guichet/mailin/reply"

func htmlText(html string) string { return reply.HTMLToText(html) }
