module smoothquant.invalid/consumer

go 1.19
