// Package cputime reads the CPU time of the process, for the benchmarks'
// cpu-ns/op: what an op costs in CPU, every goroutine counted, which
// moves far less than ns/op when other work shares the machine.
package cputime
