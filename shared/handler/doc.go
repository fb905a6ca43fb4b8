// Package handler holds the Lambda handlers: Filter takes an EventBridge
// event, Deliver an SQS batch. They only translate between aws-lambda-go's
// event shapes and the domain (packages fanout and delivery) and classify
// errors; the Lambda mains in functions/ and local mode both call them.
package handler
