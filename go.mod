module github.com/zonesync/zonesync

go 1.26.8

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/miekg/dns v1.1.73
	github.com/nginx/nginx-plus-go-client/v2 v2.3.0
	github.com/rs/zerolog v1.35.1
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
