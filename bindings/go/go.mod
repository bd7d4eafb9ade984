module convt

go 1.19
