package mailin

import (
	"strings"

	"guichet/ticket"
)

// knownCommands are the agent commands, with how many arguments each takes.
var knownCommands = map[string]int{"status": 1, "assign": 1, "priority": 1, "type": 1, "internal": 0, "solve": 0}

// splitCommands takes the command lines at the top of an agent's new text ("#status pending",
// "#assign me", "#internal" …) and returns them with the rest of the text. Only the top counts:
// the first line that is not a command (blank lines aside) ends them, so quoted text never
// carries commands. An unknown #word is text, not a command (a "#1" in a sentence, say).
func splitCommands(text string) ([]Command, string) {
	lines := strings.Split(text, "\n")
	var cmds []Command
	i := 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			break
		}
		fields := strings.Fields(line[1:])
		if len(fields) == 0 {
			break
		}
		name := strings.ToLower(fields[0])
		n, ok := knownCommands[name]
		if !ok || len(fields)-1 != n {
			break
		}
		cmds = append(cmds, Command{Name: name, Args: fields[1:]})
	}
	if len(cmds) == 0 {
		return nil, text
	}
	return cmds, strings.TrimSpace(strings.Join(lines[i:], "\n"))
}

// actions turns an agent's message and commands into the message's action and the commands after it.
// #solve and #status solved make the message the solution; #status pending makes it the question;
// #internal makes it a note.
func actions(cmds []Command, text, agent string, base ticket.Action) (ticket.Action, []ticket.Action, []string) {
	main := base
	main.Kind = ticket.ActMessage
	main.Text = text
	var after []ticket.Action
	var problems []string
	for _, c := range cmds {
		arg := ""
		if len(c.Args) > 0 {
			arg = strings.ToLower(c.Args[0])
		}
		switch c.Name {
		case "internal":
			main.Visibility = ticket.Internal
		case "solve":
			main.Kind = ticket.ActSolve
		case "assign":
			if arg == "me" {
				arg = agent
			}
			after = append(after, ticket.Action{Kind: ticket.ActAssign, Agent: arg, Reason: "#assign by e-mail"})
		case "priority":
			after = append(after, ticket.Action{Kind: ticket.ActPriority, Priority: ticket.Priority(arg), Reason: "#priority by e-mail"})
		case "type":
			after = append(after, ticket.Action{Kind: ticket.ActType, Type: arg, Reason: "#type by e-mail"})
		case "status":
			switch ticket.Status(arg) {
			case ticket.StatusSolved:
				main.Kind = ticket.ActSolve
			case ticket.StatusPending:
				main.Kind = ticket.ActPending
			case ticket.StatusPlanned:
				after = append(after, ticket.Action{Kind: ticket.ActPlan, Reason: "#status by e-mail"})
			case ticket.StatusClosed:
				after = append(after, ticket.Action{Kind: ticket.ActClose, Reason: "#status by e-mail"})
			case ticket.StatusAssigned:
				after = append(after, ticket.Action{Kind: ticket.ActAssign, Agent: agent, Reason: "#status assigned by e-mail"})
			default:
				problems = append(problems, "#status "+arg+": unknown status")
			}
		}
	}
	if main.Kind != ticket.ActMessage {
		main.Visibility = ""
	}
	return main, after, problems
}
