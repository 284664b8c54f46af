module github.com/tcpviz/tcpviz

go 1.25.0
