module rpi-swarming.local/cluster-pause

go 1.22
