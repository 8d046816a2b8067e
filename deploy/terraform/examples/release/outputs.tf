output "function_arn" {
  description = "The function, in the destination account and the source Region."
  value       = module.ecrsync.function_arn
}

output "package" {
  description = "The package deployed: the zip inside the fetched module."
  value       = module.ecrsync.package
}
