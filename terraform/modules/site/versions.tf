# Built-in features only: this module renders text and needs no provider, so `terraform init`
# works offline and nothing lands in state but the rendered outputs.
terraform {
  required_version = ">= 1.6"
}
