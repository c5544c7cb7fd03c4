"""
The IRC numerics the front door sends, by name (Twisted's own table, plus the few
it lacks), and every text that goes with them, written here once.
"""

from __future__ import annotations

from typing import Final

from twisted.words.protocols import irc

RPL_WELCOME: Final = irc.RPL_WELCOME
RPL_YOURHOST: Final = irc.RPL_YOURHOST
RPL_CREATED: Final = irc.RPL_CREATED
RPL_MYINFO: Final = irc.RPL_MYINFO
RPL_ISUPPORT: Final = irc.RPL_ISUPPORT
RPL_UMODEIS: Final = irc.RPL_UMODEIS
RPL_AWAY: Final = irc.RPL_AWAY
RPL_USERHOST: Final = irc.RPL_USERHOST
RPL_ISON: Final = irc.RPL_ISON
RPL_UNAWAY: Final = irc.RPL_UNAWAY
RPL_NOWAWAY: Final = irc.RPL_NOWAWAY
RPL_WHOISUSER: Final = irc.RPL_WHOISUSER
RPL_WHOISSERVER: Final = irc.RPL_WHOISSERVER
RPL_ENDOFWHO: Final = irc.RPL_ENDOFWHO
RPL_ENDOFWHOIS: Final = irc.RPL_ENDOFWHOIS
RPL_WHOISCHANNELS: Final = irc.RPL_WHOISCHANNELS
RPL_LISTSTART: Final = irc.RPL_LISTSTART
RPL_LIST: Final = irc.RPL_LIST
RPL_LISTEND: Final = irc.RPL_LISTEND
RPL_CHANNELMODEIS: Final = irc.RPL_CHANNELMODEIS
RPL_NOTOPIC: Final = irc.RPL_NOTOPIC
RPL_TOPIC: Final = irc.RPL_TOPIC
RPL_TOPICWHOTIME: Final = "333"
RPL_WHOREPLY: Final = irc.RPL_WHOREPLY
RPL_NAMREPLY: Final = irc.RPL_NAMREPLY
RPL_ENDOFNAMES: Final = irc.RPL_ENDOFNAMES
RPL_ENDOFBANLIST: Final = irc.RPL_ENDOFBANLIST
RPL_MOTD: Final = irc.RPL_MOTD
RPL_MOTDSTART: Final = irc.RPL_MOTDSTART
RPL_ENDOFMOTD: Final = irc.RPL_ENDOFMOTD
ERR_NOSUCHNICK: Final = irc.ERR_NOSUCHNICK
ERR_NOSUCHCHANNEL: Final = irc.ERR_NOSUCHCHANNEL
ERR_CANNOTSENDTOCHAN: Final = irc.ERR_CANNOTSENDTOCHAN
ERR_NORECIPIENT: Final = irc.ERR_NORECIPIENT
ERR_NOTEXTTOSEND: Final = irc.ERR_NOTEXTTOSEND
ERR_INVALIDCAPCMD: Final = "410"
ERR_INPUTTOOLONG: Final = "417"
ERR_UNKNOWNCOMMAND: Final = irc.ERR_UNKNOWNCOMMAND
ERR_NOMOTD: Final = irc.ERR_NOMOTD
ERR_NONICKNAMEGIVEN: Final = irc.ERR_NONICKNAMEGIVEN
ERR_ERRONEUSNICKNAME: Final = irc.ERR_ERRONEUSNICKNAME
ERR_NICKNAMEINUSE: Final = irc.ERR_NICKNAMEINUSE
ERR_NOTONCHANNEL: Final = irc.ERR_NOTONCHANNEL
ERR_NOTREGISTERED: Final = irc.ERR_NOTREGISTERED
ERR_NEEDMOREPARAMS: Final = irc.ERR_NEEDMOREPARAMS
ERR_ALREADYREGISTRED: Final = irc.ERR_ALREADYREGISTRED
ERR_PASSWDMISMATCH: Final = irc.ERR_PASSWDMISMATCH
ERR_UNKNOWNMODE: Final = irc.ERR_UNKNOWNMODE
ERR_UMODEUNKNOWNFLAG: Final = irc.ERR_UMODEUNKNOWNFLAG
ERR_USERSDONTMATCH: Final = irc.ERR_USERSDONTMATCH

# The texts of the numerics (the last parameter), and the server's own lines.
WELCOME: Final = "Welcome to the {network} chat, {mask}"
YOUR_HOST: Final = "Your host is {server}, running twisted-tcp {version}"
CREATED: Final = "This server was started {started}"
ISUPPORT: Final = "are supported by this server"
MOTD_START: Final = "- {server} message of the day -"
END_OF_MOTD: Final = "End of /MOTD command"
NO_MOTD: Final = "MOTD File is missing"
NO_SUCH_NICK: Final = "No such nick/channel"
NO_SUCH_CHANNEL: Final = "No such channel"
CANNOT_SEND: Final = "Cannot send to channel"
NO_RECIPIENT: Final = "No recipient given ({command})"
NO_TEXT: Final = "No text to send"
INVALID_CAP: Final = "Invalid CAP command"
INPUT_TOO_LONG: Final = "Input line was too long"
UNKNOWN_COMMAND: Final = "Unknown command"
NO_NICK_GIVEN: Final = "No nickname given"
NICK_IN_USE: Final = "Nickname is already in use"
NOT_ON_CHANNEL: Final = "You're not on that channel"
NOT_REGISTERED: Final = "You have not registered"
NEED_MORE_PARAMS: Final = "Not enough parameters"
ALREADY_REGISTERED: Final = "You may not reregister"
PASSWORD_MISMATCH: Final = "Password incorrect"
UNKNOWN_MODE: Final = "is unknown mode char to me"
UNKNOWN_USER_MODE: Final = "Unknown MODE flag"
USERS_DONT_MATCH: Final = "Cant change mode for other users"
NO_TOPIC: Final = "No topic is set"
END_OF_NAMES: Final = "End of /NAMES list"
END_OF_WHO: Final = "End of /WHO list"
END_OF_WHOIS: Final = "End of /WHOIS list"
END_OF_BANS: Final = "End of channel ban list"
LIST_START: Final = "Users  Name"
END_OF_LIST: Final = "End of /LIST"
NOW_AWAY: Final = "You have been marked as being away"
UN_AWAY: Final = "You are no longer marked as being away"
SERVER_INFO: Final = "twisted-tcp chat"
PING_TIMEOUT: Final = "Ping timeout: {seconds:g} seconds"
REGISTRATION_TIMEOUT: Final = "Registration timed out"
CLOSING_LINK: Final = "Closing Link: {host} ({reason})"
