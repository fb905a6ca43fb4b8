// Package functions holds the Lambda mains, one folder each (filter,
// deliver), built by scripts/build-lambdas.sh into provided.al2023
// bootstraps. Each main only reads its environment through package awsapp
// and calls lambda.Start. This package's benchmarks measure the bootstraps:
// their size and their init time from exec to ready.
package functions
