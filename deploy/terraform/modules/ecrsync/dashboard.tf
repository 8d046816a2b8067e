# An optional CloudWatch dashboard (create_dashboard) of the function's EMF metrics (namespace
# "ecrsync", dimensions Registry and Outcome: internal/lambda/log.go) beside Lambda's and the
# queues'. Dashboards are global to an account, so the name carries the Region. The EMF metrics of
# every ecrsync function in this account and Region share the namespace; the graphs show them all.
locals {
  emf_namespace = "ecrsync"
  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title   = "Syncs by outcome", region = local.function_region, view = "timeSeries", stacked = true, period = 300
        metrics = [[{ id = "syncs", expression = "SEARCH('{${local.emf_namespace},Outcome} MetricName=\"Syncs\"', 'Sum', 300)" }]]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title   = "Bytes sent by destination registry", region = local.function_region, view = "timeSeries", period = 300
        metrics = [[{ id = "bytes", expression = "SEARCH('{${local.emf_namespace},Registry,Outcome} MetricName=\"BytesSent\"', 'Sum', 300)" }]]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title = "Sync duration p50 / p99 (ms)", region = local.function_region, view = "timeSeries", period = 300
        metrics = [
          [{ id = "p50", expression = "SEARCH('{${local.emf_namespace},Outcome} MetricName=\"SyncDuration\"', 'p50', 300)" }],
          [{ id = "p99", expression = "SEARCH('{${local.emf_namespace},Outcome} MetricName=\"SyncDuration\"', 'p99', 300)" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title = "Function", region = local.function_region, view = "timeSeries", stat = "Sum", period = 300
        metrics = [
          ["AWS/Lambda", "Invocations", "FunctionName", var.name],
          ["AWS/Lambda", "Errors", "FunctionName", var.name],
          ["AWS/Lambda", "Throttles", "FunctionName", var.name],
          ["AWS/Lambda", "AsyncEventsDropped", "FunctionName", var.name],
          ["AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", var.name],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 24, height = 6
      properties = {
        title = "Oldest message waiting (s)", region = local.function_region, view = "timeSeries", stat = "Maximum", period = 300
        metrics = concat(
          [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${var.name}-failures"]],
          var.reconcile_enabled ? [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${var.name}-reconcile"],
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${var.name}-reconcile-dead-letter"],
          ] : [],
        )
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = "${var.name}-${local.function_region}"
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
