©]æÊS0^R×ÛvP‰z—-Ç²®uq¶[gLV¢/Ã$ÂUGˆ§àƒ1¯UC8m*PºG¿´k×CT0o
